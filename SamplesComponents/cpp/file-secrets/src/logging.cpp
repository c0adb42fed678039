#include "logging.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace file_secrets {

class LogHub::Stream {
 public:
  explicit Stream(int min_level) : min_level(min_level) {}
  const int min_level;
  std::deque<Record> queue;
  std::uint64_t dropped = 0;
  bool closed = false;
};

const char* level_name(Level level) {
  switch (level) {
    case Level::trace: return "trace";
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::notice: return "notice";
    case Level::warning: return "warning";
    case Level::error: return "error";
    case Level::critical: return "critical";
  }
  return "?";
}

std::optional<Level> parse_level(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  static const std::pair<const char*, Level> names[] = {
      {"trace", Level::trace},     {"debug", Level::debug}, {"info", Level::info},
      {"notice", Level::notice},   {"warning", Level::warning}, {"warn", Level::warning},
      {"error", Level::error},     {"critical", Level::critical},
  };
  for (const auto& [name, level] : names) {
    if (lower == name) return level;
  }
  return std::nullopt;
}

LogHub::LogHub(std::size_t capacity, std::optional<Level> echo_level)
    : capacity_(std::max<std::size_t>(capacity, 1)), echo_level_(echo_level) {}

void LogHub::push_bounded(std::deque<Record>& queue, const Record& record,
                          std::size_t capacity, std::uint64_t& dropped) {
  if (queue.size() >= capacity) {
    queue.pop_front();
    ++dropped;
  }
  queue.push_back(record);
}

void LogHub::log(Level level, const std::string& logger, const std::string& message,
                 const Fields& fields) {
  auto record = std::make_shared<logs_pb::LogRecord>();
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  record->mutable_time()->set_seconds(nanos / 1000000000);
  record->mutable_time()->set_nanos(static_cast<std::int32_t>(nanos % 1000000000));
  record->set_level(static_cast<logs_pb::LogLevel>(level));
  record->set_message(message);
  record->set_logger(logger);
  for (const auto& [name, value] : fields) (*record->mutable_fields())[name] = value;

  if (echo_level_ && level >= *echo_level_) echo(*record, level);

  const Record shared = record;
  std::lock_guard<std::mutex> lock(mutex_);
  if (streams_.empty()) {
    push_bounded(backlog_, shared, capacity_, dropped_);
    return;
  }
  for (const auto& stream : streams_) {
    if (static_cast<int>(level) < stream->min_level) continue;
    push_bounded(stream->queue, shared, capacity_, stream->dropped);
  }
  changed_.notify_all();
}

namespace {

// Control characters escaped, so that nothing logged can forge a line on stderr.
void append_escaped(std::string& out, const std::string& text) {
  for (unsigned char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
}

}  // namespace

void LogHub::echo(const logs_pb::LogRecord& record, Level level) {
  const std::time_t seconds = static_cast<std::time_t>(record.time().seconds());
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                record.time().nanos() / 1000000);
  std::string line = stamp;
  line += ' ';
  line += level_name(level);
  line += " [";
  append_escaped(line, record.logger());
  line += "] ";
  append_escaped(line, record.message());
  // Sorted, so lines read the same from run to run.
  const std::map<std::string, std::string> fields(record.fields().begin(), record.fields().end());
  for (const auto& [name, value] : fields) {
    line += ' ';
    append_escaped(line, name);
    line += '=';
    append_escaped(line, value);
  }
  line += '\n';
  std::lock_guard<std::mutex> lock(echo_mutex_);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

std::shared_ptr<LogHub::Stream> LogHub::open(int min_level) {
  auto stream = std::make_shared<Stream>(min_level);
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& record : backlog_) {
    if (static_cast<int>(record->level()) >= min_level) stream->queue.push_back(record);
  }
  backlog_.clear();
  stream->closed = stopped_;
  streams_.push_back(stream);
  return stream;
}

std::optional<std::vector<Record>> LogHub::take(const std::shared_ptr<Stream>& stream,
                                                std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait_for(lock, wait,
                    [&] { return !stream->queue.empty() || stream->closed || stopped_; });
  if (!stream->queue.empty()) {
    std::vector<Record> batch(stream->queue.begin(), stream->queue.end());
    stream->queue.clear();
    return batch;
  }
  if (stream->closed || stopped_) return std::nullopt;
  return std::vector<Record>{};
}

void LogHub::close(const std::shared_ptr<Stream>& stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  stream->closed = true;
  const auto found = std::find(streams_.begin(), streams_.end(), stream);
  if (found == streams_.end()) return;
  streams_.erase(found);
  dropped_ += stream->dropped;
  stream->dropped = 0;
  if (streams_.empty() && !stream->queue.empty()) {
    // Records the stream never sent come first: they are older than the backlog.
    std::deque<Record> kept = std::move(stream->queue);
    for (const auto& record : backlog_) kept.push_back(record);
    while (kept.size() > capacity_) {
      kept.pop_front();
      ++dropped_;
    }
    backlog_ = std::move(kept);
  }
  stream->queue.clear();
  changed_.notify_all();
}

void LogHub::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopped_ = true;
  changed_.notify_all();
}

std::uint64_t LogHub::dropped() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::uint64_t total = dropped_;
  for (const auto& stream : streams_) total += stream->dropped;
  return total;
}

grpc::Status ComponentLogsService::Tail(grpc::ServerContext* context,
                                        const logs_pb::TailLogsRequest* request,
                                        grpc::ServerWriter<logs_pb::LogRecord>* writer) {
  const auto stream = hub_.open(static_cast<int>(request->min_level()));
  bool open = true;
  while (open && !context->IsCancelled()) {
    // A short wait, so that a client that went away is noticed soon.
    const auto batch = hub_.take(stream, std::chrono::milliseconds(250));
    if (!batch) break;
    for (const auto& record : *batch) {
      if (!writer->Write(*record)) {
        open = false;
        break;
      }
    }
  }
  hub_.close(stream);
  return grpc::Status::OK;
}

}  // namespace file_secrets
