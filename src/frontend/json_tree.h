// JsonTree: a read-only JSON document as one flat array of nodes, parsed with nlohmann's SAX
// parser. For the KServe request headers decoded once per inference: a header is a few dozen
// values, and nlohmann's DOM spent more on allocating and freeing them (a std::map per object, a
// heap string per long key, a vector per array) than on parsing. Here every value is one 16-byte
// node in one vector, in document order (a container's descendants follow it; an object member's
// key is a node just before its value), and every key and string lives in one shared buffer.
//
// JsonValue is a cheap view of one node (the tree must outlive it) with the query methods of
// nlohmann::json that the decoder uses. Objects keep their members in document order; Find()
// returns the last of duplicate keys, as nlohmann's DOM keeps the last. Thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace batchwise {

class JsonTree;

class JsonValue {
 public:
  enum class Kind : uint8_t { kNull, kBool, kInt, kUint, kFloat, kString, kObject, kArray, kKey };

  // A value that is not there (Find() of a missing key): every is_*() is false.
  JsonValue() = default;

  bool exists() const { return tree_ != nullptr; }
  bool is_object() const { return exists() && kind() == Kind::kObject; }
  bool is_array() const { return exists() && kind() == Kind::kArray; }
  bool is_string() const { return exists() && kind() == Kind::kString; }
  bool is_boolean() const { return exists() && kind() == Kind::kBool; }
  // Integers: kInt holds negative ones, kUint the others (as nlohmann's parser reports them).
  bool is_number_integer() const {
    return exists() && (kind() == Kind::kInt || kind() == Kind::kUint);
  }
  bool is_number_unsigned() const { return exists() && kind() == Kind::kUint; }
  bool is_number() const { return is_number_integer() || (exists() && kind() == Kind::kFloat); }

  // Only for the kind their name says (checked by the caller).
  bool boolean() const;
  int64_t int64() const;    // kInt, or a kUint that fits
  uint64_t uint64() const;  // kUint
  double number() const;    // any number
  std::string_view string() const;

  // Containers: their direct children, in order.
  size_t size() const;
  JsonValue Find(std::string_view key) const;  // objects; !exists() when absent

  class Iterator {
   public:
    JsonValue operator*() const;
    Iterator& operator++();
    bool operator!=(const Iterator& o) const { return index_ != o.index_; }

   private:
    friend class JsonValue;
    Iterator(const JsonTree* tree, uint32_t index, uint32_t end);
    const JsonTree* tree_;
    uint32_t index_;
    uint32_t end_;  // the container's end
  };
  Iterator begin() const;  // containers; scalars have no children
  Iterator end() const;

  // Compact JSON text for error messages: at most `max_chars` characters (then "..."), nested
  // containers below depth 16 shown as [...] / {...}.
  std::string Dump(size_t max_chars = 200) const;

 private:
  friend class JsonTree;
  JsonValue(const JsonTree* tree, uint32_t index) : tree_(tree), index_(index) {}
  Kind kind() const;
  std::string_view KeyOf(uint32_t member) const;  // an object member's key
  void DumpTo(std::string& out, size_t max_chars, int depth) const;

  const JsonTree* tree_ = nullptr;
  uint32_t index_ = 0;
};

class JsonTree {
 public:
  // Parses `text` (strict: one value, nothing after it but whitespace). A syntax error is an
  // INVALID_ARGUMENT "malformed JSON: <nlohmann's message>".
  static Result<JsonTree> Parse(std::string_view text);

  JsonValue root() const { return {this, 0}; }

  struct Node {
    union {
      int64_t i;
      uint64_t u;  // also a container's number of children
      double d;
      struct {
        uint32_t off, len;  // in text_: a string or a key
      } s;
    } value{};
    uint32_t end = 0;  // one past this node's last descendant
    JsonValue::Kind kind = JsonValue::Kind::kNull;
    bool boolean = false;
  };

 private:
  friend class JsonValue;
  class Builder;
  static_assert(sizeof(Node) == 16);
  std::vector<Node> nodes_;
  std::string text_;  // every key and string value, back to back
};

}  // namespace batchwise
