// ProfileStore: load-performance tables on disk, keyed by (processor signature, model file hash,
// engine), so a table is measured once per hardware and model and reused until either changes.
//
// One JSON file per (processor id, model, engine) in a folder; a stored table whose signature,
// hash or engine differs from the request is stale and not returned. Not synchronised: one owner.
#pragma once

#include <optional>
#include <string>

#include "common/perf_table.h"
#include "common/status.h"

namespace batchwise {

// "fnv1a64:<16 hex digits>" of a file's bytes: cheap identity of a model file (not security).
Result<std::string> HashFile(const std::string& path);

class ProfileStore {
 public:
  explicit ProfileStore(std::string folder) : folder_(std::move(folder)) {}

  // Where the table for this (processor id, model, engine) lives.
  std::string PathFor(const std::string& processor_id, const std::string& model,
                      const std::string& engine) const;

  // The stored table if it matches all three keys; nullopt if absent or stale.
  std::optional<PerfTable> Find(const std::string& processor_id, const std::string& signature,
                                const std::string& model, const std::string& model_hash,
                                const std::string& engine) const;

  // Writes the table (creating the folder); returns its path.
  Result<std::string> Save(const PerfTable& table) const;

  const std::string& folder() const { return folder_; }

 private:
  std::string folder_;
};

}  // namespace batchwise
