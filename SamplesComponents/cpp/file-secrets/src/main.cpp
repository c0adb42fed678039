// file-secrets: a sample Apiary / Dapr pluggable component in C++.
//
// On one Unix socket it serves dapr.proto.components.v1.SecretStore (secrets from a JSON
// file), dapr.proto.components.v1.OutputBinding (files in a folder),
// apiary.proto.components.v1.ComponentLogs and gRPC server reflection. The sidecar names
// the component after the socket file: file-secrets.sock gives the types
// secretstores.file-secrets and bindings.file-secrets.

#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>

#include "file_binding.h"
#include "logging.h"
#include "secret_store.h"

#ifndef FILE_SECRETS_VERSION
#define FILE_SECRETS_VERSION "0.0.0"
#endif

namespace fs = std::filesystem;
using namespace file_secrets;

namespace {

constexpr const char* kName = "file-secrets";

const char* const kUsage =
    "usage: file-secrets [--socket PATH] [--log-level LEVEL] [--log-buffer N]\n"
    "                    [--shutdown-grace SECONDS]\n"
    "\n"
    "A sample Apiary/Dapr pluggable component: a secret store over a JSON file and an\n"
    "output binding over a folder, on one Unix socket, with gRPC reflection and\n"
    "apiary.proto.components.v1.ComponentLogs. The sidecar finds it as\n"
    "secretstores.<name> and bindings.<name>, <name> being the socket file's name\n"
    "without its extension.\n"
    "\n"
    "  --socket PATH            socket to serve (default: <sockets folder>/file-secrets.sock,\n"
    "                           the folder from APIARY_SOCKETS_DIR, else\n"
    "                           DAPR_COMPONENTS_SOCKETS_FOLDER, else /tmp/dapr-components-sockets)\n"
    "  --log-level LEVEL        least severe level written to stderr: trace, debug, info,\n"
    "                           notice, warning, error, critical or off (default info);\n"
    "                           ComponentLogs/Tail streams follow the level each client asks for\n"
    "  --log-buffer N           log records kept for Tail while no client reads (default 1000)\n"
    "  --shutdown-grace SECONDS time calls get to finish on SIGTERM/SIGINT (default 2)\n"
    "  --version, --help\n";

struct Options {
  std::string socket;
  std::optional<Level> echo_level = Level::info;
  std::size_t log_buffer = 1000;
  double shutdown_grace = 2.0;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << kName << ": " << message << "\n\n" << kUsage;
  std::exit(2);
}

std::string default_socket() {
  const char* folder = nullptr;
  for (const char* variable : {"APIARY_SOCKETS_DIR", "DAPR_COMPONENTS_SOCKETS_FOLDER"}) {
    const char* value = std::getenv(variable);
    if (value != nullptr && *value != '\0') {
      folder = value;
      break;
    }
  }
  return (fs::path(folder ? folder : "/tmp/dapr-components-sockets") /
          (std::string(kName) + ".sock"))
      .string();
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    std::optional<std::string> inline_value;
    if (const auto equals = argument.find('='); argument.rfind("--", 0) == 0 && equals != std::string::npos) {
      inline_value = argument.substr(equals + 1);
      argument.resize(equals);
    }
    const auto value = [&]() -> std::string {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) usage_error(argument + " needs a value");
      return argv[++i];
    };
    if (argument == "--help" || argument == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (argument == "--version") {
      std::cout << kName << " " << FILE_SECRETS_VERSION << "\n";
      std::exit(0);
    } else if (argument == "--socket") {
      options.socket = value();
      if (options.socket.empty()) usage_error("--socket is empty");
    } else if (argument == "--log-level") {
      const std::string text = value();
      if (text == "off" || text == "none") {
        options.echo_level.reset();
      } else if (const auto level = parse_level(text)) {
        options.echo_level = level;
      } else {
        usage_error("unknown log level " + text);
      }
    } else if (argument == "--log-buffer") {
      const std::string text = value();
      char* end = nullptr;
      const long long count = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || count < 1 || count > 1000000) {
        usage_error("--log-buffer must be a number from 1 to 1000000");
      }
      options.log_buffer = static_cast<std::size_t>(count);
    } else if (argument == "--shutdown-grace") {
      const std::string text = value();
      char* end = nullptr;
      const double seconds = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !std::isfinite(seconds) || seconds < 0 || seconds > 3600) {
        usage_error("--shutdown-grace must be a number of seconds from 0 to 3600");
      }
      options.shutdown_grace = seconds;
    } else {
      usage_error("unknown argument " + argument);
    }
  }
  if (options.socket.empty()) options.socket = default_socket();
  return options;
}

// Makes `path` ready to listen on: creates its folder (mode 0700) when missing and
// removes a stale socket left by a crash. Refuses to replace anything that is not a
// socket, or a socket another process still serves. Returns "" or the problem.
std::string prepare_socket(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return "socket path " + path + " is longer than " +
           std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes";
  }
  const fs::path folder = fs::path(path).parent_path();
  std::error_code error;
  if (!folder.empty() && !fs::exists(folder, error)) {
    fs::create_directories(folder, error);
    if (error) return "cannot create the sockets folder " + folder.string() + ": " + error.message();
    ::chmod(folder.c_str(), 0700);
  }
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return "";
    return "cannot inspect " + path + ": " + std::strerror(errno);
  }
  if (!S_ISSOCK(info.st_mode)) return path + " exists and is not a socket; not replacing it";
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (probe < 0) return std::string("socket(): ") + std::strerror(errno);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const bool answered =
      ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(probe);
  if (answered) return "another process is serving " + path;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return "cannot remove the stale socket " + path + ": " + std::strerror(errno);
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);

  // SIGTERM and SIGINT are taken with sigwait below. They are blocked before gRPC starts
  // any thread, so that every thread inherits the mask and none is interrupted.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  LogHub hub(options.log_buffer, options.echo_level);
  const Logger log(hub, kName);

  const std::string path = fs::absolute(options.socket).lexically_normal().string();
  if (const std::string problem = prepare_socket(path); !problem.empty()) {
    std::cerr << kName << ": " << problem << "\n";
    return 1;
  }

  SecretStoreService secrets(hub);
  FileBindingService files(hub);
  ComponentLogsService logs(hub);

  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
  builder.RegisterService(&secrets);
  builder.RegisterService(&files);
  builder.RegisterService(&logs);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << kName << ": cannot listen on unix:" << path << "\n";
    return 1;
  }
  // Remembered, so that only our own socket file is removed at the end.
  struct stat served {};
  const bool know_socket = ::lstat(path.c_str(), &served) == 0;

  log.notice("serving " + std::string(dapr_pb::SecretStore::service_full_name()) + ", " +
                 dapr_pb::OutputBinding::service_full_name() + ", " +
                 logs_pb::ComponentLogs::service_full_name() + " on unix:" + path,
             {{"socket", path}, {"version", FILE_SECRETS_VERSION}});

  int signal_number = 0;
  while (sigwait(&stop_signals, &signal_number) != 0) {
  }
  log.notice(std::string("stopping on ") + (signal_number == SIGTERM ? "SIGTERM" : "SIGINT"));

  // Tail streams send what they hold and end; other calls get the grace period, then
  // are cancelled.
  hub.stop();
  const auto grace = std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::duration<double>(options.shutdown_grace));
  server->Shutdown(std::chrono::system_clock::now() + grace);
  server->Wait();
  server.reset();

  struct stat now {};
  if (know_socket && ::lstat(path.c_str(), &now) == 0 && S_ISSOCK(now.st_mode) &&
      now.st_ino == served.st_ino && now.st_dev == served.st_dev) {
    ::unlink(path.c_str());
  }
  log.notice("stopped");
  return 0;
}
