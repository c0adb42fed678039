#include "file_binding.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace file_secrets {

namespace {

const std::array<const char*, 4> kOperations = {"create", "get", "delete", "list"};
constexpr const char* kFileName = "fileName";
// Files being written are named so; list never shows them and no fileName may be one.
constexpr const char* kTemporaryPrefix = ".file-secrets-tmp-";

std::string errno_text(int error) { return std::strerror(error); }

// A random (version 4) UUID, as Dapr's local storage binding names created files.
std::string generated_name() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  std::array<unsigned char, 16> bytes{};
  for (std::size_t i = 0; i < bytes.size(); i += 8) {
    const std::uint64_t value = random();
    for (std::size_t j = 0; j < 8; ++j) bytes[i + j] = static_cast<unsigned char>(value >> (8 * j));
  }
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);
  std::string text;
  char hex[3];
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    std::snprintf(hex, sizeof hex, "%02x", bytes[i]);
    text += hex;
  }
  return text;
}

bool write_all(int fd, const std::string& data) {
  std::size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    written += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string file_name_problem(const std::string& name) {
  if (name.empty()) return "the file name is empty";
  if (name.find('/') != std::string::npos) return "file names must not contain \"/\"";
  if (name.find("..") != std::string::npos) return "file names must not contain \"..\"";
  if (name == ".") return "\".\" is not a file name";
  if (name.find('\0') != std::string::npos) return "file names must not contain NUL";
  if (name.size() > 255) return "file names are at most 255 bytes";
  if (name.rfind(kTemporaryPrefix, 0) == 0) {
    return std::string("names starting with ") + kTemporaryPrefix + " are reserved";
  }
  return "";
}

grpc::Status FileBindingService::fail(const std::string& instance, const std::string& operation,
                                      grpc::StatusCode code, const std::string& message) const {
  static const std::map<grpc::StatusCode, const char*> names = {
      {grpc::StatusCode::INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {grpc::StatusCode::NOT_FOUND, "NOT_FOUND"},
      {grpc::StatusCode::INTERNAL, "INTERNAL"},
  };
  const auto name = names.find(code);
  log_.warning(operation + " failed: " + message,
               {{"instance", instance},
                {"operation", operation},
                {"code", name == names.end() ? std::to_string(code) : name->second}});
  return status_of(code, message);
}

grpc::Status FileBindingService::Init(grpc::ServerContext* context,
                                      const dapr_pb::OutputBindingInitRequest* request,
                                      dapr_pb::OutputBindingInitResponse*) {
  const std::string instance = instance_of(context);
  const auto refuse = [&](const std::string& message) {
    log_.error("Init of OutputBinding instance " + instance + " refused: " + message,
               {{"instance", instance}, {"code", "INVALID_ARGUMENT"}});
    return status_of(grpc::StatusCode::INVALID_ARGUMENT, message);
  };
  const auto& properties = request->metadata().properties();
  const auto found = properties.find("rootPath");
  if (found == properties.end() || found->second.empty()) {
    return refuse("metadata rootPath (the folder of the files) is required");
  }
  std::error_code error;
  fs::path root = fs::absolute(found->second, error);
  if (error) return refuse("rootPath " + found->second + ": " + error.message());
  root = root.lexically_normal();
  fs::create_directories(root, error);
  if (error) return refuse("cannot create rootPath " + root.string() + ": " + error.message());
  if (!fs::is_directory(root, error)) return refuse("rootPath " + root.string() + " is not a folder");
  if (::access(root.c_str(), R_OK | W_OK | X_OK) != 0) {
    return refuse("rootPath " + root.string() + ": " + errno_text(errno));
  }
  instances_.put(instance, std::make_shared<const FileFolder>(FileFolder{root}));
  log_.info("initialised OutputBinding instance " + instance + " on " + root.string(),
            {{"instance", instance}, {"rootPath", root.string()}});
  return grpc::Status::OK;
}

grpc::Status FileBindingService::ListOperations(grpc::ServerContext* context,
                                                const dapr_pb::ListOperationsRequest*,
                                                dapr_pb::ListOperationsResponse* response) {
  return with_instance(context, "ListOperations", [&](const FileFolder&) -> grpc::Status {
    for (const char* operation : kOperations) response->add_operations(operation);
    return grpc::Status::OK;
  });
}

grpc::Status FileBindingService::Ping(grpc::ServerContext* context, const dapr_pb::PingRequest*,
                                      dapr_pb::PingResponse*) {
  return ping(context);
}

grpc::Status FileBindingService::Invoke(grpc::ServerContext* context,
                                        const dapr_pb::InvokeRequest* request,
                                        dapr_pb::InvokeResponse* response) {
  return with_instance(context, "Invoke", [&](const FileFolder& folder) -> grpc::Status {
    const std::string instance = instance_of(context);
    const std::string& operation = request->operation();
    const auto& metadata = request->metadata();
    const auto named = metadata.find(kFileName);
    std::string name = named == metadata.end() ? std::string() : named->second;

    Fields fields = {{"instance", instance}, {"operation", operation}};
    if (!name.empty()) fields[kFileName] = name;
    log_.debug("invoke " + operation + (name.empty() ? "" : " " + name), fields);

    if (std::find_if(kOperations.begin(), kOperations.end(), [&](const char* known) {
          return operation == known;
        }) == kOperations.end()) {
      return fail(instance, operation, grpc::StatusCode::INVALID_ARGUMENT,
                  "unsupported operation \"" + operation + "\" (supported: create, get, delete, list)");
    }
    if (operation == "list") return list(folder, response);

    if (name.empty()) {
      if (operation != "create") {
        return fail(instance, operation, grpc::StatusCode::INVALID_ARGUMENT,
                    "operation " + operation + " needs metadata " + kFileName);
      }
      name = generated_name();
    }
    if (const std::string problem = file_name_problem(name); !problem.empty()) {
      return fail(instance, operation, grpc::StatusCode::INVALID_ARGUMENT,
                  "fileName \"" + name + "\" refused: " + problem);
    }
    grpc::Status status;
    if (operation == "create") status = create(folder, name, request->data(), response);
    else if (operation == "get") status = get(folder, name, response);
    else status = remove(folder, name, response);
    if (!status.ok()) return fail(instance, operation, status.error_code(), status.error_message());
    return status;
  });
}

grpc::Status FileBindingService::create(const FileFolder& folder, const std::string& name,
                                        const std::string& data,
                                        dapr_pb::InvokeResponse* response) const {
  // Written to a temporary file first and renamed over the target, so that readers
  // never see half a file and a failed write leaves the old content.
  std::string temporary = (folder.root / (std::string(kTemporaryPrefix) + "XXXXXX")).string();
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) {
    return status_of(grpc::StatusCode::INTERNAL,
                        "cannot create a file in " + folder.root.string() + ": " + errno_text(errno));
  }
  // mkstemp creates the file with mode 0600, which the renamed file keeps: what the
  // binding stores is readable by the component's user only.
  const bool written = write_all(fd, data);
  const int write_error = errno;
  if (::close(fd) != 0 || !written) {
    const int error = written ? errno : write_error;
    ::unlink(temporary.c_str());
    return status_of(grpc::StatusCode::INTERNAL, "cannot write " + name + ": " + errno_text(error));
  }
  const fs::path target = folder.root / name;
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    if (error == EISDIR || error == ENOTEMPTY || error == EEXIST) {
      return status_of(grpc::StatusCode::INVALID_ARGUMENT, name + " is a folder");
    }
    return status_of(grpc::StatusCode::INTERNAL, "cannot write " + name + ": " + errno_text(error));
  }
  (*response->mutable_metadata())[kFileName] = name;
  return grpc::Status::OK;
}

grpc::Status FileBindingService::get(const FileFolder& folder, const std::string& name,
                                     dapr_pb::InvokeResponse* response) const {
  const fs::path path = folder.root / name;
  // O_NOFOLLOW: a symbolic link placed in the folder is not followed out of it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) {
      return status_of(grpc::StatusCode::NOT_FOUND,
                          "file " + name + " not found in " + folder.root.string());
    }
    if (error == ELOOP) {
      return status_of(grpc::StatusCode::INVALID_ARGUMENT, name + " is a symbolic link");
    }
    return status_of(grpc::StatusCode::INTERNAL, "cannot read " + name + ": " + errno_text(error));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return status_of(grpc::StatusCode::INVALID_ARGUMENT, name + " is not a regular file");
  }
  std::string content;
  content.reserve(static_cast<std::size_t>(info.st_size));
  char buffer[65536];
  while (true) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::close(fd);
      return status_of(grpc::StatusCode::INTERNAL, "cannot read " + name + ": " + errno_text(error));
    }
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  response->set_data(std::move(content));
  response->set_content_type("application/octet-stream");
  (*response->mutable_metadata())[kFileName] = name;
  return grpc::Status::OK;
}

grpc::Status FileBindingService::remove(const FileFolder& folder, const std::string& name,
                                        dapr_pb::InvokeResponse* response) const {
  const fs::path path = folder.root / name;
  std::error_code error;
  const auto status = fs::symlink_status(path, error);
  if (status.type() == fs::file_type::not_found) {
    return status_of(grpc::StatusCode::NOT_FOUND,
                        "file " + name + " not found in " + folder.root.string());
  }
  if (status.type() == fs::file_type::directory) {
    return status_of(grpc::StatusCode::INVALID_ARGUMENT, name + " is a folder");
  }
  if (::unlink(path.c_str()) != 0) {
    const int failure = errno;
    if (failure == ENOENT) {
      return status_of(grpc::StatusCode::NOT_FOUND,
                          "file " + name + " not found in " + folder.root.string());
    }
    return status_of(grpc::StatusCode::INTERNAL, "cannot delete " + name + ": " + errno_text(failure));
  }
  (*response->mutable_metadata())[kFileName] = name;
  return grpc::Status::OK;
}

grpc::Status FileBindingService::list(const FileFolder& folder,
                                      dapr_pb::InvokeResponse* response) const {
  std::error_code error;
  std::vector<std::string> names;
  for (fs::directory_iterator it(folder.root, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    std::error_code type_error;
    if (!it->is_regular_file(type_error) || it->is_symlink(type_error)) continue;
    if (name.rfind(kTemporaryPrefix, 0) == 0) continue;
    names.push_back(name);
  }
  if (error) {
    return status_of(grpc::StatusCode::INTERNAL,
                        "cannot list " + folder.root.string() + ": " + error.message());
  }
  std::sort(names.begin(), names.end());
  // File names that are not UTF-8 are listed with U+FFFD in place of the bad bytes.
  response->set_data(nlohmann::json(names).dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace));
  response->set_content_type("application/json");
  return grpc::Status::OK;
}

}  // namespace file_secrets
