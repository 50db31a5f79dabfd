// Test helpers for the HTTP frontend: a libcurl client (one easy handle: one kept-alive
// connection, not thread-safe; use one per thread) and the binary-extension body builder.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace batchwise::testing {

struct ClientResponse {
  long status = 0;    // 0 when the transfer failed
  std::string error;  // curl's message when it failed
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  long new_connections = 0;                    // connections opened for this request (0: reused)
};

class HttpClient {
 public:
  explicit HttpClient(int port, std::string host = "127.0.0.1");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  ClientResponse Get(const std::string& path);
  ClientResponse Post(const std::string& path, const std::string& body,
                      const std::vector<std::string>& headers = {});
  // Any method; `http10`: speak HTTP/1.0.
  ClientResponse Request(const std::string& method, const std::string& path,
                         const std::string& body, const std::vector<std::string>& headers,
                         bool http10 = false);

 private:
  std::string base_;
  void* curl_;
};

// A KServe request body with binary inputs: {"inputs":[...]} then the raw bytes; returns the body
// and sets `json_size` (for Inference-Header-Content-Length).
struct BinaryInput {
  std::string name;
  std::string datatype;
  std::vector<long> shape;
  std::string bytes;
};
std::string BinaryBody(const std::vector<BinaryInput>& inputs, bool binary_outputs,
                       size_t& json_size);
std::string FloatBytes(const std::vector<float>& v);

}  // namespace batchwise::testing
