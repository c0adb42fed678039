// dapr.proto.components.v1.OutputBinding over one directory per instance.
#pragma once

#include <filesystem>
#include <string>

#include "dapr/proto/components/v1/bindings.grpc.pb.h"
#include "instances.h"
#include "logging.h"

namespace file_secrets {

namespace dapr_pb = dapr::proto::components::v1;

struct FileFolder {
  std::filesystem::path root;  // absolute
};

// Why `name` cannot be a file name of the binding, or "" when it can.
std::string file_name_problem(const std::string& name);

class FileBindingService final : public dapr_pb::OutputBinding::Service,
                                 private InstanceService<FileFolder> {
 public:
  explicit FileBindingService(LogHub& hub) : InstanceService(hub, "file-secrets.OutputBinding") {}

  grpc::Status Init(grpc::ServerContext* context, const dapr_pb::OutputBindingInitRequest* request,
                    dapr_pb::OutputBindingInitResponse* response) override;
  grpc::Status Invoke(grpc::ServerContext* context, const dapr_pb::InvokeRequest* request,
                      dapr_pb::InvokeResponse* response) override;
  grpc::Status ListOperations(grpc::ServerContext* context,
                              const dapr_pb::ListOperationsRequest* request,
                              dapr_pb::ListOperationsResponse* response) override;
  grpc::Status Ping(grpc::ServerContext* context, const dapr_pb::PingRequest* request,
                    dapr_pb::PingResponse* response) override;

 private:
  // Logs a failed Invoke (refused or not found) at warning level and returns its status.
  grpc::Status fail(const std::string& instance, const std::string& operation,
                    grpc::StatusCode code, const std::string& message) const;

  grpc::Status create(const FileFolder& folder, const std::string& name,
                      const std::string& data, dapr_pb::InvokeResponse* response) const;
  grpc::Status get(const FileFolder& folder, const std::string& name,
                   dapr_pb::InvokeResponse* response) const;
  grpc::Status remove(const FileFolder& folder, const std::string& name,
                      dapr_pb::InvokeResponse* response) const;
  grpc::Status list(const FileFolder& folder, dapr_pb::InvokeResponse* response) const;
};

}  // namespace file_secrets
