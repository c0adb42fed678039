#include "instances.h"

namespace file_secrets {

std::string instance_of(const grpc::ServerContext* context) {
  const auto& metadata = context->client_metadata();
  const auto found = metadata.find(kInstanceHeader);
  if (found == metadata.end()) return "";
  return std::string(found->second.data(), found->second.size());
}

grpc::Status not_initialised(const std::string& instance) {
  if (instance.empty()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        std::string("instance (none: no ") + kInstanceHeader +
                            " header) is not initialised");
  }
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                      "instance " + instance + " is not initialised");
}

}  // namespace file_secrets
