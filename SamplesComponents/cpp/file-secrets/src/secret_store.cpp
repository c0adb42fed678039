#include "secret_store.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace file_secrets {

namespace {

using nlohmann::json;

constexpr const char* kMultipleKeyValues = "MULTIPLE_KEY_VALUES_PER_SECRET";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::optional<bool> parse_bool(const std::string& text) {
  const std::string value = lower(text);
  if (value == "true" || value == "1" || value == "yes" || value == "on") return true;
  if (value == "false" || value == "0" || value == "no" || value == "off" || value.empty()) {
    return false;
  }
  return std::nullopt;
}

std::string scalar_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();  // true/false and numbers as JSON writes them
}

class Flattener {
 public:
  Flattener(const std::string& separator, std::vector<std::string>& collisions)
      : separator_(separator), collisions_(collisions) {}

  // Adds `value` under `key` to `out`: objects and arrays become one entry per leaf,
  // their member names (array indexes) joined to `key` with the separator.
  void add(const std::string& key, const json& value, Secret& out) const {
    if (value.is_object()) {
      for (const auto& [name, item] : value.items()) add(key + separator_ + name, item, out);
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        add(key + separator_ + std::to_string(i), value[i], out);
      }
    } else {
      set(out, key, scalar_text(value));
    }
  }

  // The members of an object (at the top of the file, or of one multi-valued secret).
  void add_members(const json& object, Secret& out) const {
    for (const auto& [name, item] : object.items()) add(name, item, out);
  }

 private:
  void set(Secret& out, const std::string& key, std::string value) const {
    const auto [where, inserted] = out.insert_or_assign(key, std::move(value));
    (void)where;
    if (!inserted) collisions_.push_back(key);
  }

  const std::string& separator_;
  std::vector<std::string>& collisions_;
};

grpc::Status invalid(const std::string& message) {
  return status_of(grpc::StatusCode::INVALID_ARGUMENT, message);
}

}  // namespace

SecretFile load_secret_file(const std::string& path, const std::string& separator,
                            bool multi_valued, std::vector<std::string>& collisions) {
  std::error_code ignored;
  SecretFile file;
  file.path = std::filesystem::absolute(path, ignored).lexically_normal().string();
  if (file.path.empty()) file.path = path;
  file.multi_valued = multi_valued;

  if (std::filesystem::is_directory(file.path, ignored)) {
    throw std::runtime_error("secretsFile " + file.path + " is a directory");
  }
  std::ifstream input(file.path, std::ios::binary);
  if (!input) {
    throw std::runtime_error("cannot open secretsFile " + file.path + ": " +
                             std::strerror(errno));
  }
  json document;
  try {
    document = json::parse(input);
  } catch (const json::exception& error) {
    throw std::runtime_error("secretsFile " + file.path + " is not valid JSON: " + error.what());
  }
  if (!document.is_object()) {
    throw std::runtime_error("secretsFile " + file.path +
                             " must hold a JSON object at the top level, not " +
                             document.type_name());
  }

  const Flattener flattener(separator, collisions);
  if (!multi_valued) {
    // Every leaf is a secret of its own: {"db": {"password": "x"}} is the secret
    // "db:password" with the single pair {"db:password": "x"}.
    Secret all;
    flattener.add_members(document, all);
    for (auto& [key, value] : all) file.secrets[key] = Secret{{key, std::move(value)}};
  } else {
    // Every top-level member is a secret: an object's members (flattened below that
    // level) are its pairs; anything else is the single pair {name: value}.
    for (const auto& [name, item] : document.items()) {
      Secret secret;
      if (item.is_object()) {
        flattener.add_members(item, secret);
      } else {
        flattener.add(name, item, secret);
      }
      file.secrets[name] = std::move(secret);
    }
  }
  return file;
}

grpc::Status SecretStoreService::Init(grpc::ServerContext* context,
                                      const dapr_pb::SecretStoreInitRequest* request,
                                      dapr_pb::SecretStoreInitResponse*) {
  const std::string instance = instance_of(context);
  const auto& properties = request->metadata().properties();
  const auto refuse = [&](const std::string& message) {
    log_.error("Init of SecretStore instance " + instance + " refused: " + message,
               {{"instance", instance}, {"code", "INVALID_ARGUMENT"}});
    return invalid(message);
  };
  const auto property = [&](const char* name) -> std::string {
    const auto found = properties.find(name);
    return found == properties.end() ? std::string() : found->second;
  };

  const std::string path = property("secretsFile");
  if (path.empty()) return refuse("metadata secretsFile (path of a JSON file) is required");
  std::string separator = property("nestedSeparator");
  if (separator.empty()) separator = ":";
  const auto multi_valued = parse_bool(property("multiValued"));
  if (!multi_valued) {
    return refuse("metadata multiValued must be true or false, not \"" + property("multiValued") +
                  "\"");
  }

  std::vector<std::string> collisions;
  std::shared_ptr<const SecretFile> file;
  try {
    file = std::make_shared<const SecretFile>(
        load_secret_file(path, separator, *multi_valued, collisions));
  } catch (const std::exception& error) {
    return refuse(error.what());
  }
  for (const auto& key : collisions) {
    log_.warning("secretsFile " + file->path + ": key " + key +
                     " is defined more than once after flattening; the last one is kept",
                 {{"instance", instance}, {"key", key}});
  }
  instances_.put(instance, file);
  log_.info("initialised SecretStore instance " + instance + ": " +
                std::to_string(file->secrets.size()) + " secrets from " + file->path,
            {{"instance", instance},
             {"secretsFile", file->path},
             {"secrets", std::to_string(file->secrets.size())},
             {"multiValued", file->multi_valued ? "true" : "false"}});
  return grpc::Status::OK;
}

grpc::Status SecretStoreService::Features(grpc::ServerContext* context,
                                          const dapr_pb::FeaturesRequest*,
                                          dapr_pb::FeaturesResponse* response) {
  return with_instance(context, "Features", [&](const SecretFile& file) -> grpc::Status {
    if (file.multi_valued) response->add_features(kMultipleKeyValues);
    return grpc::Status::OK;
  });
}

grpc::Status SecretStoreService::Get(grpc::ServerContext* context,
                                     const dapr_pb::GetSecretRequest* request,
                                     dapr_pb::GetSecretResponse* response) {
  return with_instance(context, "Get", [&](const SecretFile& file) -> grpc::Status {
    const std::string instance = instance_of(context);
    const std::string& key = request->key();
    if (key.empty()) {
      log_.warning("Get refused: empty secret name", {{"instance", instance}});
      return invalid("the secret name (key) is empty");
    }
    const auto found = file.secrets.find(key);
    if (found == file.secrets.end()) {
      log_.warning("secret " + key + " not found", {{"instance", instance}, {"key", key}});
      return status_of(grpc::StatusCode::NOT_FOUND, "secret " + key + " not found in " + file.path);
    }
    // Secret names are logged, their values never.
    log_.debug("get secret " + key, {{"instance", instance}, {"key", key}});
    response->mutable_data()->insert(found->second.begin(), found->second.end());
    return grpc::Status::OK;
  });
}

grpc::Status SecretStoreService::BulkGet(grpc::ServerContext* context,
                                         const dapr_pb::BulkGetSecretRequest*,
                                         dapr_pb::BulkGetSecretResponse* response) {
  return with_instance(context, "BulkGet", [&](const SecretFile& file) -> grpc::Status {
    log_.debug("bulk get: " + std::to_string(file.secrets.size()) + " secrets",
               {{"instance", instance_of(context)}});
    auto& data = *response->mutable_data();
    for (const auto& [name, secret] : file.secrets) {
      data[name].mutable_secrets()->insert(secret.begin(), secret.end());
    }
    return grpc::Status::OK;
  });
}

grpc::Status SecretStoreService::Ping(grpc::ServerContext* context, const dapr_pb::PingRequest*,
                                      dapr_pb::PingResponse*) {
  return ping(context);
}

}  // namespace file_secrets
