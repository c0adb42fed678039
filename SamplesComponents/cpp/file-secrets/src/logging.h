// The component's logging facility.
//
// Every record goes to a LogHub, which
//  - echoes it to stderr when it reaches the --log-level threshold, and
//  - hands it to apiary.proto.components.v1.ComponentLogs/Tail: each open Tail stream
//    has its own bounded queue and min_level; while no stream is open, records wait in
//    a backlog of the same bound, which the next stream takes. A full queue drops its
//    oldest record (counted).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "apiary/proto/components/v1/logs.grpc.pb.h"

namespace file_secrets {

namespace logs_pb = apiary::proto::components::v1;

// Same numbers as apiary.proto.components.v1.LogLevel.
enum class Level : int {
  trace = 0,
  debug = 1,
  info = 2,
  notice = 3,
  warning = 4,
  error = 5,
  critical = 6,
};

const char* level_name(Level level);
// trace, debug, info, notice, warning (or warn), error, critical; nullopt otherwise.
std::optional<Level> parse_level(std::string_view text);

using Fields = std::map<std::string, std::string>;
using Record = std::shared_ptr<const logs_pb::LogRecord>;

class LogHub {
 public:
  // capacity: records kept per open Tail stream, and in the backlog.
  // echo_level: least severe level written to stderr; nullopt writes nothing.
  LogHub(std::size_t capacity, std::optional<Level> echo_level);

  void log(Level level, const std::string& logger, const std::string& message,
           const Fields& fields = {});

  class Stream;
  // A new Tail stream that starts with the backlog (records below min_level skipped).
  std::shared_ptr<Stream> open(int min_level);
  // The stream's queued records, waiting up to `wait` while there are none (then an
  // empty vector). nullopt once the stream should end: the hub is stopping (or the
  // stream was closed) and everything queued has been handed out.
  std::optional<std::vector<Record>> take(const std::shared_ptr<Stream>& stream,
                                          std::chrono::milliseconds wait);
  // Idempotent. When the last open stream closes, what it had not taken goes back to
  // the backlog, so a Tail opened again right away loses nothing.
  void close(const std::shared_ptr<Stream>& stream);
  // The server is stopping: streams hand out what they hold, then end.
  void stop();

  std::uint64_t dropped() const;

 private:
  void echo(const logs_pb::LogRecord& record, Level level);
  static void push_bounded(std::deque<Record>& queue, const Record& record,
                           std::size_t capacity, std::uint64_t& dropped);

  const std::size_t capacity_;
  const std::optional<Level> echo_level_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Record> backlog_;
  std::vector<std::shared_ptr<Stream>> streams_;
  std::uint64_t dropped_ = 0;
  bool stopped_ = false;
  std::mutex echo_mutex_;
};

// A named logger ("file-secrets.SecretStore", ...) over a hub.
class Logger {
 public:
  Logger(LogHub& hub, std::string name) : hub_(hub), name_(std::move(name)) {}
  void log(Level level, const std::string& message, const Fields& fields = {}) const {
    hub_.log(level, name_, message, fields);
  }
  void trace(const std::string& m, const Fields& f = {}) const { log(Level::trace, m, f); }
  void debug(const std::string& m, const Fields& f = {}) const { log(Level::debug, m, f); }
  void info(const std::string& m, const Fields& f = {}) const { log(Level::info, m, f); }
  void notice(const std::string& m, const Fields& f = {}) const { log(Level::notice, m, f); }
  void warning(const std::string& m, const Fields& f = {}) const { log(Level::warning, m, f); }
  void error(const std::string& m, const Fields& f = {}) const { log(Level::error, m, f); }

 private:
  LogHub& hub_;
  std::string name_;
};

// apiary.proto.components.v1.ComponentLogs over a LogHub.
class ComponentLogsService final : public logs_pb::ComponentLogs::Service {
 public:
  explicit ComponentLogsService(LogHub& hub) : hub_(hub) {}
  grpc::Status Tail(grpc::ServerContext* context, const logs_pb::TailLogsRequest* request,
                    grpc::ServerWriter<logs_pb::LogRecord>* writer) override;

 private:
  LogHub& hub_;
};

}  // namespace file_secrets
