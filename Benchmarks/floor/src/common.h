// Shared helpers for floor-server / floor-client: the raw ping-pong framing and
// small socket utilities. Header-only on purpose (two tiny programs).
#pragma once

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace floorbench {

[[noreturn]] inline void die(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  std::exit(2);
}

// The command line walk both programs share. next() gives the flags one by one (-h and
// --help print the usage and end the program with 0); value() takes the current flag's
// value; fail() prints the usage, then the error, and stops.
class Args {
 public:
  Args(int argc, char** argv, void (*usage)()) : argc_(argc), argv_(argv), usage_(usage) {}

  bool next(std::string& flag) {
    if (++i_ >= argc_) return false;
    flag = argv_[i_];
    if (flag == "-h" || flag == "--help") {
      usage_();
      std::exit(0);
    }
    return true;
  }

  std::string value(const std::string& flag) {
    if (i_ + 1 >= argc_) fail("missing value for " + flag);
    return argv_[++i_];
  }

  [[noreturn]] void fail(const std::string& msg) const {
    usage_();
    die(msg);
  }

 private:
  int argc_;
  char** argv_;
  void (*usage_)();
  int i_ = 0;
};

inline std::string errno_text(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// "unix:/path" (or "unix:///path") -> "/path"; anything else -> "" (= TCP host:port).
inline std::string unix_path_of(const std::string& target) {
  if (target.rfind("unix://", 0) == 0) return target.substr(7);
  if (target.rfind("unix:", 0) == 0) return target.substr(5);
  return "";
}

inline void split_host_port(const std::string& hp, std::string& host, std::string& port) {
  auto colon = hp.rfind(':');
  if (colon == std::string::npos) die("expected host:port, got '" + hp + "'");
  host = hp.substr(0, colon);
  port = hp.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
}

inline void fill_unix_addr(const std::string& path, sockaddr_un& addr) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) die("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
}

// A new Unix stream socket, and in `addr` the address of `path` for it.
inline int unix_socket(const std::string& path, sockaddr_un& addr) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die(errno_text("socket"));
  fill_unix_addr(path, addr);
  return fd;
}

// getaddrinfo for a stream socket on "host:port" (`flags` as addrinfo.ai_flags); a
// failure stops the program. The caller frees the list.
inline addrinfo* resolve_stream(const std::string& host_port, int flags) {
  std::string host, port;
  split_host_port(host_port, host, port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = flags;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    die("getaddrinfo " + host_port + ": " + gai_strerror(rc));
  return res;
}

// Connects to "unix:PATH" or "host:port" (TCP, TCP_NODELAY). Returns the fd.
inline int raw_connect(const std::string& target) {
  std::string path = unix_path_of(target);
  if (!path.empty()) {
    sockaddr_un addr;
    int fd = unix_socket(path, addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      die(errno_text(("connect " + path).c_str()));
    return fd;
  }
  addrinfo* res = resolve_stream(target, 0);
  int fd = -1;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) die("cannot connect to " + target);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Listens on a Unix socket path (removing a stale one first) or on host:port.
inline int raw_listen(const std::string& unix_path, const std::string& tcp_addr) {
  if (!unix_path.empty()) {
    ::unlink(unix_path.c_str());
    sockaddr_un addr;
    int fd = unix_socket(unix_path, addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      die(errno_text(("bind " + unix_path).c_str()));
    if (::listen(fd, 512) != 0) die(errno_text("listen"));
    return fd;
  }
  addrinfo* res = resolve_stream(tcp_addr, AI_PASSIVE);
  int fd = ::socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  if (fd < 0) die(errno_text("socket"));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0) die(errno_text("bind"));
  ::freeaddrinfo(res);
  if (::listen(fd, 512) != 0) die(errno_text("listen"));
  return fd;
}

inline void set_nodelay_if_tcp(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 &&
      (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
}

// ---- raw ping-pong framing: 4-byte little-endian length, then the payload ----

inline bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

inline bool read_all(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) return false;  // peer closed
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

inline void put_len(char* p, uint32_t v) {
  p[0] = static_cast<char>(v & 0xff);
  p[1] = static_cast<char>((v >> 8) & 0xff);
  p[2] = static_cast<char>((v >> 16) & 0xff);
  p[3] = static_cast<char>((v >> 24) & 0xff);
}

inline uint32_t get_len(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return uint32_t(b[0]) | (uint32_t(b[1]) << 8) | (uint32_t(b[2]) << 16) | (uint32_t(b[3]) << 24);
}

constexpr uint32_t kMaxRawFrame = 64u << 20;

// Reads one frame into `buf` (header + payload). Returns the payload length, or -1
// when the peer closed / on error. The first recv normally brings the whole frame,
// so a request costs one recv and (on the other side) one send.
inline long read_frame(int fd, std::vector<char>& buf) {
  if (buf.size() < 4 + 4096) buf.resize(4 + 4096);
  size_t have = 0;
  while (have < 4) {
    ssize_t r = ::recv(fd, buf.data() + have, buf.size() - have, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    have += static_cast<size_t>(r);
  }
  uint32_t len = get_len(buf.data());
  if (len > kMaxRawFrame) return -1;
  size_t total = 4 + static_cast<size_t>(len);
  if (buf.size() < total) buf.resize(total);
  // The peer waits for our answer before sending again, so nothing beyond `total`
  // can arrive; read exactly the rest.
  if (have > total) return -1;
  if (!read_all(fd, buf.data() + have, total - have)) return -1;
  return static_cast<long>(len);
}

}  // namespace floorbench
