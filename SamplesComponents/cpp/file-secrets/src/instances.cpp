#include "instances.h"

namespace file_secrets {

std::string instance_of(const grpc::ServerContext* context) {
  const auto& metadata = context->client_metadata();
  const auto found = metadata.find(kInstanceHeader);
  if (found == metadata.end()) return "";
  return std::string(found->second.data(), found->second.size());
}

grpc::Status status_of(grpc::StatusCode code, const std::string& message) {
  constexpr std::size_t kLimit = 1024, kHead = 768, kTail = 192;
  if (message.size() <= kLimit) return grpc::Status(code, message);
  // Byte offsets: a cut inside a UTF-8 sequence moves to the sequence's start.
  auto boundary = [&](std::size_t at) {
    while (at > 0 && (static_cast<unsigned char>(message[at]) & 0xC0) == 0x80) --at;
    return at;
  };
  const std::size_t head = boundary(kHead);
  const std::size_t tail = boundary(message.size() - kTail);
  return grpc::Status(code, message.substr(0, head) + " ... (" + std::to_string(tail - head) +
                                " bytes left out) ... " + message.substr(tail));
}

grpc::Status not_initialised(const std::string& instance) {
  if (instance.empty()) {
    return status_of(grpc::StatusCode::FAILED_PRECONDITION,
                        std::string("instance (none: no ") + kInstanceHeader +
                            " header) is not initialised");
  }
  return status_of(grpc::StatusCode::FAILED_PRECONDITION,
                      "instance " + instance + " is not initialised");
}

}  // namespace file_secrets
