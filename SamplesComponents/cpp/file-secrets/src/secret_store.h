// dapr.proto.components.v1.SecretStore over a JSON file, like Dapr's local.file store.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "dapr/proto/components/v1/secretstore.grpc.pb.h"
#include "instances.h"
#include "logging.h"

namespace file_secrets {

namespace dapr_pb = dapr::proto::components::v1;

// One secret: its key/value pairs (a single pair unless multi-valued).
using Secret = std::map<std::string, std::string>;

struct SecretFile {
  std::string path;   // absolute path of the file read
  bool multi_valued = false;
  std::map<std::string, Secret> secrets;
};

// Reads and flattens a secrets file. Throws std::runtime_error with a message naming
// the file and the problem. Keys that two JSON paths flatten to (e.g. "a:b" and
// {"a": {"b": ...}}) keep the later value in key order and are added to `collisions`.
SecretFile load_secret_file(const std::string& path, const std::string& separator,
                            bool multi_valued, std::vector<std::string>& collisions);

class SecretStoreService final : public dapr_pb::SecretStore::Service,
                                 private InstanceService<SecretFile> {
 public:
  explicit SecretStoreService(LogHub& hub) : InstanceService(hub, "file-secrets.SecretStore") {}

  grpc::Status Init(grpc::ServerContext* context, const dapr_pb::SecretStoreInitRequest* request,
                    dapr_pb::SecretStoreInitResponse* response) override;
  grpc::Status Features(grpc::ServerContext* context, const dapr_pb::FeaturesRequest* request,
                        dapr_pb::FeaturesResponse* response) override;
  grpc::Status Get(grpc::ServerContext* context, const dapr_pb::GetSecretRequest* request,
                   dapr_pb::GetSecretResponse* response) override;
  grpc::Status BulkGet(grpc::ServerContext* context, const dapr_pb::BulkGetSecretRequest* request,
                       dapr_pb::BulkGetSecretResponse* response) override;
  grpc::Status Ping(grpc::ServerContext* context, const dapr_pb::PingRequest* request,
                    dapr_pb::PingResponse* response) override;
};

}  // namespace file_secrets
