// floor-client: the client half of the "floor of one gRPC hop" benchmark.
//
// C worker threads each issue blocking unary Echo calls, one at a time, on ONE shared
// channel (so at most C calls are in flight, multiplexed on one HTTP/2 connection).
// With --raw, each worker instead owns one raw socket connection and does a
// length-prefixed ping-pong with `floor-server --raw`.
//
// Per-call latency is taken with std::chrono::steady_clock around each call. Warm-up
// calls run first (all workers), then every worker waits at a barrier, then the
// measured phase starts: wall time, this process's CPU (getrusage RUSAGE_SELF, all
// threads, gRPC's own included) and, with --server-pid, the server's utime+stime from
// /proc/PID/stat are taken at its start and end.
#include <dirent.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "echo.grpc.pb.h"

using apiary::bench::v1::Echo;
using apiary::bench::v1::EchoMessage;
using namespace floorbench;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
  std::string target;
  size_t payload = 1024;
  long calls = 10000;
  long warmup = 1000;
  int concurrency = 1;
  bool json = false;
  bool raw = false;
  long server_pid = 0;
  double call_timeout_s = 10.0;
  std::string label;
};

void usage() {
  std::fprintf(stderr,
      "usage: floor-client --target unix:PATH|HOST:PORT [options]\n"
      "  --payload BYTES     request (and echoed answer) payload size, default 1024\n"
      "  --calls N           measured calls, default 10000\n"
      "  --warmup N          unmeasured calls before, default 1000\n"
      "  --concurrency C     calls in flight: C threads doing blocking calls, default 1\n"
      "  --server-pid PID    also report the server's CPU time during the measured phase\n"
      "  --raw               raw socket ping-pong against `floor-server --raw` (no gRPC)\n"
      "  --call-timeout S    per-call deadline in seconds, default 10\n"
      "  --label TEXT        copied into the output (e.g. a run name)\n"
      "  --json              print one JSON object\n");
}

double cpu_seconds_self() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

// utime + stime of a process (all its threads) in seconds; <0 if unreadable.
// Resolution is one clock tick (usually 10 ms).
double cpu_seconds_of_pid(long pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close_paren = s.rfind(')');
  if (!f.good() && s.empty()) return -1;
  if (close_paren == std::string::npos) return -1;
  std::istringstream rest(s.substr(close_paren + 2));
  // Fields after "(comm)": 3 state, 4 ppid, ..., 14 utime, 15 stime.
  std::string tok;
  unsigned long long utime = 0, stime = 0;
  for (int field = 3; field <= 15 && (rest >> tok); ++field) {
    if (field == 14) utime = std::stoull(tok);
    if (field == 15) stime = std::stoull(tok);
  }
  long hz = ::sysconf(_SC_CLK_TCK);
  return double(utime + stime) / double(hz > 0 ? hz : 100);
}

// Context switches of a process: voluntary + involuntary, summed over its threads
// (/proc/PID/task/*/status); <0 if unreadable. Threads that ended during the phase
// are not counted (the servers here keep theirs).
long long context_switches_of_pid(long pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(tasks.c_str());
  if (!dir) return -1;
  long long total = 0;
  while (dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream f(tasks + "/" + entry->d_name + "/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 || line.rfind("nonvoluntary_ctxt_switches:", 0) == 0)
        total += std::stoll(line.substr(line.find(':') + 1));
    }
  }
  ::closedir(dir);
  return total;
}

// One measured-phase start gate shared by all workers.
class Gate {
 public:
  explicit Gate(int workers) : waiting_(workers) {}
  // Called by a worker after its warm-up; blocks until open().
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (--waiting_ == 0) cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void wait_all_arrived() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return waiting_ == 0; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int waiting_;
  bool open_ = false;
};

struct Shared {
  std::atomic<long> next_warmup{0};
  std::atomic<long> next_call{0};
  std::atomic<bool> failed{false};
  std::mutex err_mu;
  std::string first_error;
  void fail(const std::string& e) {
    std::lock_guard<std::mutex> lock(err_mu);
    if (!failed.exchange(true)) first_error = e;
  }
};

// Runs warm-up calls then measured calls using `one_call` (returns "" on success or
// an error text). Work is handed out with shared counters so all workers stay busy.
template <typename CallFn>
void worker_loop(const Options& opt, Shared& sh, Gate& gate, std::vector<double>& lat_us,
                 CallFn&& one_call) {
  while (!sh.failed.load(std::memory_order_relaxed) &&
         sh.next_warmup.fetch_add(1, std::memory_order_relaxed) < opt.warmup) {
    std::string err = one_call();
    if (!err.empty()) sh.fail("warm-up: " + err);
  }
  gate.arrive_and_wait();
  while (!sh.failed.load(std::memory_order_relaxed) &&
         sh.next_call.fetch_add(1, std::memory_order_relaxed) < opt.calls) {
    auto t0 = Clock::now();
    std::string err = one_call();
    auto t1 = Clock::now();
    if (!err.empty()) {
      sh.fail(err);
      break;
    }
    lat_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
}

double percentile(const std::vector<double>& sorted, double p) {
  // Nearest-rank percentile.
  if (sorted.empty()) return 0;
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * double(sorted.size())));
  if (rank < 1) rank = 1;
  if (rank > sorted.size()) rank = sorted.size();
  return sorted[rank - 1];
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      out += b;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  Args args(argc, argv, usage);
  std::string a;
  while (args.next(a)) {
    try {
      if (a == "--target") opt.target = args.value(a);
      else if (a == "--payload") opt.payload = std::stoul(args.value(a));
      else if (a == "--calls") opt.calls = std::stol(args.value(a));
      else if (a == "--warmup") opt.warmup = std::stol(args.value(a));
      else if (a == "--concurrency") opt.concurrency = std::stoi(args.value(a));
      else if (a == "--server-pid") opt.server_pid = std::stol(args.value(a));
      else if (a == "--call-timeout") opt.call_timeout_s = std::stod(args.value(a));
      else if (a == "--label") opt.label = args.value(a);
      else if (a == "--json") opt.json = true;
      else if (a == "--raw") opt.raw = true;
      else args.fail("unknown argument " + a);
    } catch (const std::logic_error&) {
      die("bad number for " + a);
    }
  }
  if (opt.target.empty()) args.fail("--target is required");
  if (opt.calls < 1 || opt.warmup < 0 || opt.concurrency < 1 || opt.concurrency > 4096)
    die("need --calls >= 1, --warmup >= 0, 1 <= --concurrency <= 4096");
  if (opt.payload > kMaxRawFrame) die("--payload too large");
  ::signal(SIGPIPE, SIG_IGN);

  const std::string payload(opt.payload, 'x');
  const auto call_timeout = std::chrono::microseconds(static_cast<long>(opt.call_timeout_s * 1e6));
  Shared sh;
  Gate gate(opt.concurrency);
  std::vector<std::vector<double>> per_thread(opt.concurrency);
  for (auto& v : per_thread) v.reserve(static_cast<size_t>(opt.calls / opt.concurrency + 16));
  std::vector<std::thread> threads;

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<Echo::Stub> stub;
  std::vector<int> raw_fds;

  if (!opt.raw) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    args.SetMaxSendMessageSize(64 << 20);
    channel = grpc::CreateCustomChannel(opt.target, grpc::InsecureChannelCredentials(), args);
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5)))
      die("cannot connect to " + opt.target + " within 5 s");
    stub = Echo::NewStub(channel);  // stubs are thread-safe; one shared by all workers
    for (int t = 0; t < opt.concurrency; ++t) {
      threads.emplace_back([&, t] {
        EchoMessage req, resp;
        req.set_payload(payload);
        worker_loop(opt, sh, gate, per_thread[t], [&]() -> std::string {
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + call_timeout);
          resp.Clear();
          grpc::Status st = stub->Echo(&ctx, req, &resp);
          if (!st.ok())
            return "Echo failed: code " + std::to_string(st.error_code()) + " " + st.error_message();
          if (resp.payload().size() != payload.size()) return "echoed payload has the wrong size";
          return "";
        });
      });
    }
  } else {
    for (int t = 0; t < opt.concurrency; ++t) {
      int fd = raw_connect(opt.target);
      timeval tv{static_cast<time_t>(opt.call_timeout_s),
                 static_cast<suseconds_t>((opt.call_timeout_s - long(opt.call_timeout_s)) * 1e6)};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
      raw_fds.push_back(fd);
    }
    for (int t = 0; t < opt.concurrency; ++t) {
      threads.emplace_back([&, t] {
        int fd = raw_fds[t];
        std::vector<char> frame(4 + payload.size()), answer(4 + payload.size());
        put_len(frame.data(), static_cast<uint32_t>(payload.size()));
        std::memcpy(frame.data() + 4, payload.data(), payload.size());
        worker_loop(opt, sh, gate, per_thread[t], [&]() -> std::string {
          if (!write_all(fd, frame.data(), frame.size())) return errno_text("send");
          if (!read_all(fd, answer.data(), answer.size())) return errno_text("recv");
          if (get_len(answer.data()) != payload.size()) return "echoed frame has the wrong size";
          return "";
        });
      });
    }
  }

  gate.wait_all_arrived();  // every worker has finished its share of the warm-up
  double server_cpu0 = opt.server_pid ? cpu_seconds_of_pid(opt.server_pid) : -1;
  long long server_switches0 = opt.server_pid ? context_switches_of_pid(opt.server_pid) : -1;
  double cpu0 = cpu_seconds_self();
  auto wall0 = Clock::now();
  gate.open();
  for (auto& t : threads) t.join();
  auto wall1 = Clock::now();
  double cpu1 = cpu_seconds_self();
  double server_cpu1 = opt.server_pid ? cpu_seconds_of_pid(opt.server_pid) : -1;
  long long server_switches1 = opt.server_pid ? context_switches_of_pid(opt.server_pid) : -1;
  for (int fd : raw_fds) ::close(fd);

  if (sh.failed) {
    std::fprintf(stderr, "error: %s\n", sh.first_error.c_str());
    return 1;
  }

  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(opt.calls));
  for (auto& v : per_thread) lat.insert(lat.end(), v.begin(), v.end());
  std::sort(lat.begin(), lat.end());
  double sum = 0;
  for (double x : lat) sum += x;
  const double n = double(lat.size());
  const double wall_s = std::chrono::duration<double>(wall1 - wall0).count();
  const double client_cpu = cpu1 - cpu0;
  const bool have_server = opt.server_pid && server_cpu0 >= 0 && server_cpu1 >= 0;
  const double server_cpu = have_server ? server_cpu1 - server_cpu0 : 0;

  struct Field {
    const char* name;
    double value;
    int decimals;
  };
  std::vector<Field> fields = {
      {"payload_bytes", double(opt.payload), 0},
      {"concurrency", double(opt.concurrency), 0},
      {"warmup", double(opt.warmup), 0},
      {"calls", n, 0},
      {"p50_us", percentile(lat, 50), 1},
      {"p90_us", percentile(lat, 90), 1},
      {"p99_us", percentile(lat, 99), 1},
      {"mean_us", sum / n, 1},
      {"min_us", lat.front(), 1},
      {"max_us", lat.back(), 1},
      {"wall_s", wall_s, 4},
      {"throughput_cps", n / wall_s, 0},
      {"client_cpu_s", client_cpu, 4},
      {"client_cpu_s_per_1000", client_cpu / n * 1000.0, 5},
  };
  if (have_server) {
    fields.push_back({"server_cpu_s", server_cpu, 4});
    fields.push_back({"server_cpu_s_per_1000", server_cpu / n * 1000.0, 5});
  }
  if (opt.server_pid && server_switches0 >= 0 && server_switches1 >= 0)
    fields.push_back({"server_switches_per_call", double(server_switches1 - server_switches0) / n, 2});

  const char* mode = opt.raw ? "raw" : "grpc";
  if (opt.json) {
    std::string out = "{\"mode\":\"" + std::string(mode) + "\",\"target\":\"" +
                      json_escape(opt.target) + "\"";
    if (!opt.label.empty()) out += ",\"label\":\"" + json_escape(opt.label) + "\"";
    for (auto& f : fields) {
      char b[64];
      std::snprintf(b, sizeof b, ",\"%s\":%.*f", f.name, f.decimals, f.value);
      out += b;
    }
    if (opt.server_pid && !have_server) out += ",\"server_cpu_s\":null";
    out += "}";
    std::printf("%s\n", out.c_str());
  } else {
    std::printf("%s %s  payload=%zu B  in-flight=%d  calls=%ld (+%ld warm-up)%s%s\n", mode,
                opt.target.c_str(), opt.payload, opt.concurrency, long(n), opt.warmup,
                opt.label.empty() ? "" : "  ", opt.label.c_str());
    std::printf("  latency us: p50 %.1f  p90 %.1f  p99 %.1f  mean %.1f  (min %.1f, max %.1f)\n",
                percentile(lat, 50), percentile(lat, 90), percentile(lat, 99), sum / n,
                lat.front(), lat.back());
    std::printf("  throughput: %.0f calls/s over %.3f s\n", n / wall_s, wall_s);
    std::printf("  client CPU: %.4f s  (%.5f s per 1000 calls)\n", client_cpu, client_cpu / n * 1000);
    if (have_server)
      std::printf("  server CPU: %.4f s  (%.5f s per 1000 calls; /proc tick resolution)\n",
                  server_cpu, server_cpu / n * 1000);
    else if (opt.server_pid)
      std::printf("  server CPU: unavailable (/proc/%ld/stat unreadable)\n", opt.server_pid);
  }
  return 0;
}
