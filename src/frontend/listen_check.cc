#include "frontend/listen_check.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>

namespace batchwise {
namespace {

// "Address already in use" -> "address already in use", to read as the rest of the line.
std::string Lowered(std::string why) {
  if (why.size() > 1 && std::isupper(static_cast<unsigned char>(why[0])) &&
      std::islower(static_cast<unsigned char>(why[1]))) {
    why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
  }
  return why;
}

// errno of binding one address (0: it binds).
int BindErrno(const addrinfo& a) {
  const int fd = ::socket(a.ai_family, a.ai_socktype, a.ai_protocol);
  if (fd < 0) return errno;
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));  // as the listeners do
  const int err = ::bind(fd, a.ai_addr, a.ai_addrlen) == 0 ? 0 : errno;
  ::close(fd);
  return err;
}

}  // namespace

Status ListenError(const std::string& host, int port, const std::string& flag,
                   const std::string& why) {
  return Unavailable("cannot listen on " + host + ":" + std::to_string(port) + " (" + flag +
                     "): " + Lowered(why));
}

Status CheckCanListen(const std::string& host, int port, const std::string& flag) {
  if (port == 0) return Status::Ok();
  std::string name = host;  // "[::1]" -> "::1"
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc =
          ::getaddrinfo(name.empty() ? nullptr : name.c_str(), service.c_str(), &hints, &found);
      rc != 0) {
    return ListenError(host, port, flag, std::string("bad address: ") + ::gai_strerror(rc));
  }
  int err = 0;
  for (const addrinfo* a = found; a != nullptr && err == 0; a = a->ai_next) err = BindErrno(*a);
  ::freeaddrinfo(found);
  return err == 0 ? Status::Ok() : ListenError(host, port, flag, std::strerror(err));
}

}  // namespace batchwise
