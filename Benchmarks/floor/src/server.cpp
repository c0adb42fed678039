// floor-server: the server half of the "floor of one gRPC hop" benchmark.
//
//   floor-server --socket PATH [--api callback|sync]   gRPC Echo on unix:PATH
//   floor-server --listen HOST:PORT [...]              gRPC Echo on TCP
//   floor-server --raw --socket PATH                   raw length-prefixed ping-pong
//
// Prints "listening on unix:PATH" (or "listening on HOST:PORT") on stdout once it
// accepts connections. SIGTERM / SIGINT: stop, remove the socket file, exit 0.
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "echo.grpc.pb.h"

using apiary::bench::v1::Echo;
using apiary::bench::v1::EchoMessage;
using namespace floorbench;

namespace {

constexpr int kMaxMessage = 64 << 20;

// Callback ("reactor") API: the handler runs directly on a gRPC polling thread and
// finishes inline; no hand-off to an application thread pool.
class CallbackEcho final : public Echo::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const EchoMessage* req,
                                 EchoMessage* resp) override {
    resp->set_payload(req->payload());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// Synchronous API: gRPC's sync-server thread pool polls and runs the handler.
class SyncEcho final : public Echo::Service {
  grpc::Status Echo(grpc::ServerContext*, const EchoMessage* req, EchoMessage* resp) override {
    resp->set_payload(req->payload());
    return grpc::Status::OK;
  }
};

void usage() {
  std::fprintf(stderr,
               "usage: floor-server (--socket PATH | --listen HOST:PORT) [--api callback|sync] [--raw]\n"
               "  --socket PATH     serve on the Unix socket PATH (unix:PATH); removed on exit\n"
               "  --listen H:P      serve on TCP instead\n"
               "  --api A           gRPC server API: callback (default) or sync\n"
               "  --raw             no gRPC: raw 4-byte-length-prefixed echo (ping-pong baseline)\n");
}

sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

int wait_for_stop_signal() {
  sigset_t set = stop_signals();
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

int run_grpc(const std::string& socket_path, const std::string& tcp_addr, const std::string& api) {
  std::string address = socket_path.empty() ? tcp_addr : "unix:" + socket_path;
  if (!socket_path.empty()) ::unlink(socket_path.c_str());  // stale socket from a crash

  CallbackEcho callback_service;
  SyncEcho sync_service;
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &selected_port);
  builder.SetMaxReceiveMessageSize(kMaxMessage);
  builder.SetMaxSendMessageSize(kMaxMessage);
  if (api == "sync") {
    builder.RegisterService(&sync_service);
  } else {
    builder.RegisterService(&callback_service);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || selected_port == 0) die("cannot listen on " + address);

  std::printf("listening on %s\n", address.c_str());
  std::fflush(stdout);

  int sig = wait_for_stop_signal();
  std::fprintf(stderr, "floor-server: signal %d, shutting down\n", sig);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  server.reset();
  if (!socket_path.empty()) ::unlink(socket_path.c_str());
  return 0;
}

int run_raw(const std::string& socket_path, const std::string& tcp_addr) {
  int listen_fd = raw_listen(socket_path, tcp_addr);
  std::mutex mu;
  std::vector<int> conns;
  std::vector<std::thread> workers;
  bool stopping = false;

  std::thread acceptor([&] {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        return;  // listening socket shut down
      }
      set_nodelay_if_tcp(fd);
      std::lock_guard<std::mutex> lock(mu);
      if (stopping) {
        ::close(fd);
        return;
      }
      conns.push_back(fd);
      workers.emplace_back([fd] {
        std::vector<char> buf;
        for (;;) {
          long len = read_frame(fd, buf);
          if (len < 0) break;
          if (!write_all(fd, buf.data(), 4 + static_cast<size_t>(len))) break;
        }
      });
    }
  });

  std::printf("listening on %s\n",
              socket_path.empty() ? tcp_addr.c_str() : ("unix:" + socket_path).c_str());
  std::fflush(stdout);

  int sig = wait_for_stop_signal();
  std::fprintf(stderr, "floor-server (raw): signal %d, shutting down\n", sig);
  {
    std::lock_guard<std::mutex> lock(mu);
    stopping = true;
    ::shutdown(listen_fd, SHUT_RDWR);  // wakes accept() on Linux
    for (int fd : conns) ::shutdown(fd, SHUT_RDWR);
  }
  acceptor.join();
  for (auto& t : workers) t.join();
  for (int fd : conns) ::close(fd);
  ::close(listen_fd);
  if (!socket_path.empty()) ::unlink(socket_path.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string socket_path, tcp_addr, api = "callback";
  bool raw = false;
  Args args(argc, argv, usage);
  std::string a;
  while (args.next(a)) {
    if (a == "--socket") {
      socket_path = args.value(a);
      if (socket_path.rfind("unix:", 0) == 0) socket_path = unix_path_of(socket_path);
    } else if (a == "--listen") {
      tcp_addr = args.value(a);
    } else if (a == "--api") {
      api = args.value(a);
    } else if (a == "--raw") {
      raw = true;
    } else {
      args.fail("unknown argument " + a);
    }
  }
  if (socket_path.empty() == tcp_addr.empty()) args.fail("give exactly one of --socket or --listen");
  if (api != "callback" && api != "sync") die("--api must be callback or sync");

  // Block the stop signals before any thread exists so that every thread (gRPC's
  // included) inherits the mask and only sigwait() in main() receives them.
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  return raw ? run_raw(socket_path, tcp_addr) : run_grpc(socket_path, tcp_addr, api);
}
