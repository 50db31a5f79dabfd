// RawConnection: one client TCP connection that sends and reads bytes as given, for tests of
// HTTP framing and timing (a client library would normalise exactly the bytes they are about).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>

namespace batchwise::testing {

// One client connection. Reads time out after 2 s so a test fails instead of hanging.
class RawConnection {
 public:
  explicit RawConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawConnection() { Close(); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // False when the server already closed (or reset) the connection.
  bool Send(const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  // One response: its status line and header block, and Content-Length bytes of body unless
  // `head` (a response to HEAD). Null on close or timeout before a whole response came.
  struct Response {
    int status = 0;
    std::string header;  // the whole header block, lower-cased
    std::string body;
  };
  std::optional<Response> ReadResponse(bool head = false) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    Response r;
    r.header = buffer_.substr(0, end + 4);
    for (char& c : r.header) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    buffer_.erase(0, end + 4);
    if (r.header.rfind("http/1.", 0) != 0) return std::nullopt;
    r.status = std::stoi(r.header.substr(9, 3));
    size_t length = 0;
    if (auto at = r.header.find("content-length: "); at != std::string::npos) {
      length = std::stoul(r.header.substr(at + 16));
    }
    if (head) length = 0;
    while (buffer_.size() < length) {
      if (!Fill()) return std::nullopt;
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return r;
  }

  // Whether the server closes the connection (EOF or reset) with no further byte sent; bytes
  // that came instead are left in `leftover`.
  bool ClosedWithNothingMore(std::string* leftover = nullptr) {
    while (Fill()) {
    }
    if (leftover) *leftover = buffer_;
    return buffer_.empty() && !timed_out_;
  }

 private:
  bool Fill() {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) timed_out_ = true;
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool timed_out_ = false;
  std::string buffer_;
};

}  // namespace batchwise::testing
