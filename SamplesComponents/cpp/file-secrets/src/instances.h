// One instance per configured component: the sidecar names the instance of every call
// in the `x-component-instance` metadata header, and creates it with that name's Init.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <grpcpp/grpcpp.h>

#include "logging.h"

namespace file_secrets {

inline constexpr const char* kInstanceHeader = "x-component-instance";

// The call's x-component-instance value; "" when the header is absent.
std::string instance_of(const grpc::ServerContext* context);

// A status whose message is cut to its first 768 and last 192 bytes (with a note of
// what was left out) when longer than 1024 bytes: messages quote keys and names, which
// can be megabytes, and a status travels in the trailers, which peers limit to a few
// KiB. Every status this component returns is made here.
grpc::Status status_of(grpc::StatusCode code, const std::string& message);

// FAILED_PRECONDITION "instance X is not initialised".
grpc::Status not_initialised(const std::string& instance);

// Immutable instance values behind a lock: Init swaps in a new value, and a call in
// flight keeps using the value it started with.
template <typename T>
class Instances {
 public:
  void put(const std::string& name, std::shared_ptr<const T> value) {
    std::lock_guard<std::mutex> lock(mutex_);
    values_[name] = std::move(value);
  }
  std::shared_ptr<const T> find(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto found = values_.find(name);
    return found == values_.end() ? nullptr : found->second;
  }
  // The calling instance's value. When it was never initialised: sets `status` to
  // FAILED_PRECONDITION, logs the refusal at warning level, and returns nullptr.
  std::shared_ptr<const T> require(const grpc::ServerContext* context, const char* method, const Logger& log,
                                   grpc::Status& status) const {
    const std::string instance = instance_of(context);
    auto value = find(instance);
    if (!value) {
      status = not_initialised(instance);
      log.warning(std::string(method) + " refused: " + status.error_message(),
                  {{"instance", instance}, {"method", method}, {"code", "FAILED_PRECONDITION"}});
    }
    return value;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const T>> values_;
};

// What the component's services share: a logger, their instances, the check that a
// call's instance exists, and Ping.
template <typename T>
class InstanceService {
 protected:
  InstanceService(LogHub& hub, const char* logger) : log_(hub, logger) {}

  // The call's instance; nullptr (with `status` set and a warning logged) when that
  // instance was never initialised.
  std::shared_ptr<const T> require(const grpc::ServerContext* context, const char* method,
                                   grpc::Status& status) const {
    return instances_.require(context, method, log_, status);
  }

  // The status of `body(value)` for the call's instance's value; when that instance was
  // never initialised, the refusal require() makes, without running `body`.
  template <typename Body>
  grpc::Status with_instance(const grpc::ServerContext* context, const char* method,
                             Body body) const {
    grpc::Status status;
    const auto value = require(context, method, status);
    return value ? body(*value) : status;
  }

  // Ping: OK for an initialised instance. A Ping for an instance this process does not
  // know (FAILED_PRECONDITION) tells the sidecar the process restarted, and it
  // initialises the instance again.
  grpc::Status ping(const grpc::ServerContext* context) const {
    return with_instance(context, "Ping", [&](const T&) -> grpc::Status {
      log_.trace("ping", {{"instance", instance_of(context)}});
      return grpc::Status::OK;
    });
  }

  Logger log_;
  Instances<T> instances_;
};

}  // namespace file_secrets
