#include "client/batch_manifest.h"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "client/result_writer.h"
#include "nlohmann/json.hpp"

namespace nio::client {
namespace {

// 2: the key (client/batch_key.h); shards are keys' hashes, no longer
// every N-th row.
constexpr int kManifestVersion = 2;

template <class T>
nlohmann::json OrNull(const std::optional<T>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

nlohmann::json BoundsJson(const models::FeatureBounds& b) {
  const char* direction =
      b.direction == models::Direction::kIncrease   ? "increase"
      : b.direction == models::Direction::kDecrease ? "decrease"
                                                    : "any";
  return {{"min", OrNull(b.min)},
          {"max", OrNull(b.max)},
          {"max_delta", OrNull(b.max_delta)},
          {"direction", direction}};
}

// The options of better suggestions, in the order a user thinks of them.
constexpr const char* kSearchFields[] = {"starts",
                                         "start_pool",
                                         "target",
                                         "tolerance",
                                         "tolerance_window",
                                         "time_budget_ms",
                                         "max_changed_features"};

// The options as they are compared and stored.
nlohmann::json Fields(const BatchManifest& m) {
  nlohmann::json bounds = nlohmann::json::object();
  for (const auto& [name, b] : m.options.bounds) bounds[name] = BoundsJson(b);
  return {
      {"model", m.model_name},
      {"model_version", m.model_version},
      {"steps", OrNull(m.options.steps)},
      {"lr", OrNull(m.options.lr)},
      {"lambda", OrNull(m.options.lambda)},
      {"mode", m.options.mode
                   ? nlohmann::json(models::NioModeName(*m.options.mode))
                   : nlohmann::json(nullptr)},
      {"optimizer", m.options.optimizer ? nlohmann::json(models::OptimizerName(
                                              *m.options.optimizer))
                                        : nlohmann::json(nullptr)},
      {"starts", OrNull(m.options.starts)},
      {"start_pool", OrNull(m.options.start_pool)},
      {"target", OrNull(m.options.target)},
      {"tolerance", OrNull(m.options.tolerance)},
      {"tolerance_window", OrNull(m.options.tolerance_window)},
      {"time_budget_ms", OrNull(m.options.time_budget_ms)},
      {"max_changed_features", OrNull(m.options.max_changed_features)},
      {"mutable", m.output_features},
      {"bounds", bounds},
      {"fill_missing", m.fill_missing_mean ? "mean" : "error"},
      {"key", m.key},
      {"shard", m.shard},
  };
}

template <class T>
std::optional<T> Optional(const nlohmann::json& j) {
  if (j.is_null()) return std::nullopt;
  return j.get<T>();
}

// The command-line spelling of each field, for the refusal message.
const char* FlagOf(const std::string& field) {
  if (field == "steps" || field == "lr" || field == "lambda" ||
      field == "mode" || field == "starts" || field == "target" ||
      field == "tolerance") {
    return nullptr;
  }
  if (field == "model" || field == "model_version") return "the model";
  if (field == "mutable") return "--mutable";
  if (field == "bounds") return "--bound, --increase or --decrease";
  if (field == "tolerance_window") return "--tolerance-window";
  if (field == "optimizer") return "--optimizer";
  if (field == "start_pool") return "--start-pool";
  if (field == "time_budget_ms") return "--time-budget-ms";
  if (field == "max_changed_features") return "--max-changed";
  if (field == "fill_missing") return "--fill-missing";
  if (field == "key") return "--key-column";
  if (field == "shard") return "--shard";
  return nullptr;
}

}  // namespace

std::string ManifestPath(const std::string& output) {
  return output + ".manifest.json";
}

absl::Status WriteManifest(const std::string& output,
                           const BatchManifest& manifest) {
  nlohmann::json j = Fields(manifest);
  j["manifest_version"] = kManifestVersion;
  const std::string path = ManifestPath(output);
  const std::string tmp = path + ".tmp";
  {
    // Checked after the close, which writes it (it fits the stream's
    // buffer): on a full disk an empty copy must not replace the manifest.
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    out.close();
    if (!out) {
      const int error = errno;
      std::remove(tmp.c_str());
      return WriteError(tmp, error);
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    std::remove(tmp.c_str());
    return WriteError(path, error);
  }
  return absl::OkStatus();
}

absl::StatusOr<BatchManifest> ReadManifest(const std::string& output) {
  const std::string path = ManifestPath(output);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": not found"));
  std::stringstream text;
  text << in.rdbuf();
  const auto j = nlohmann::json::parse(text.str(), nullptr, false);
  BatchManifest m;
  try {
    const int version =
        j.is_discarded() ? 0 : j.at("manifest_version").get<int>();
    if (version != 1 && version != kManifestVersion) {
      throw std::runtime_error("unknown layout");
    }
    m.model_name = j.at("model");
    m.model_version = j.at("model_version");
    m.options.steps = Optional<int>(j.at("steps"));
    m.options.lr = Optional<double>(j.at("lr"));
    m.options.lambda = Optional<double>(j.at("lambda"));
    if (!j.at("mode").is_null()) {
      auto mode = models::ParseNioMode(j.at("mode").get<std::string>());
      if (!mode.ok()) throw std::runtime_error("mode");
      m.options.mode = *mode;
    }
    m.output_features = j.at("mutable").get<std::vector<std::string>>();
    // Absent in manifests written before these options: unset.
    auto optional = [&](const char* field) {
      return j.contains(field) ? j.at(field) : nlohmann::json(nullptr);
    };
    m.options.starts = Optional<int>(optional("starts"));
    // Written before the optimizer option: Adam without a pool, all there
    // was.
    if (!optional("optimizer").is_null()) {
      auto o = models::ParseOptimizer(optional("optimizer").get<std::string>());
      if (!o.ok()) throw std::runtime_error("optimizer");
      m.options.optimizer = *o;
    } else if (!j.contains("optimizer")) {
      m.options.optimizer = models::Optimizer::kAdam;
    }
    m.options.start_pool = j.contains("start_pool")
                               ? Optional<int>(j.at("start_pool"))
                               : std::optional<int>(0);
    m.options.target = Optional<double>(optional("target"));
    m.options.tolerance = Optional<double>(optional("tolerance"));
    m.options.tolerance_window = Optional<int>(optional("tolerance_window"));
    m.options.time_budget_ms = Optional<int>(optional("time_budget_ms"));
    m.options.max_changed_features =
        Optional<int>(optional("max_changed_features"));
    for (const auto& [name, b] : j.at("bounds").items()) {
      models::FeatureBounds& fb = m.options.bounds[name];
      fb = {Optional<double>(b.at("min")), Optional<double>(b.at("max")),
            Optional<double>(b.at("max_delta"))};
      const std::string direction = b.value("direction", "any");
      if (direction == "increase") fb.direction = models::Direction::kIncrease;
      if (direction == "decrease") fb.direction = models::Direction::kDecrease;
    }
    m.fill_missing_mean = j.at("fill_missing") == "mean";
    m.shard = j.at("shard").get<std::string>();
    if (version == 1) {
      m.key = {"track_id"};
      if (!m.shard.empty()) m.shard += " by row position (an older nio)";
    } else {
      m.key = j.at("key").get<std::vector<std::string>>();
    }
  } catch (const std::exception&) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a batch manifest this nio can read"));
  }
  return m;
}

absl::Status CheckSameShape(const BatchManifest& previous,
                            const BatchManifest& now) {
  const nlohmann::json a = Fields(previous), b = Fields(now);
  // In the order a user thinks of them.
  // The optimizer first: it decides what steps, lr and starts mean.
  std::vector<const char*> fields = {
      "model", "model_version", "mode", "optimizer", "steps", "lr", "lambda"};
  fields.insert(fields.end(), std::begin(kSearchFields),
                std::end(kSearchFields));
  for (const char* f : {"mutable", "bounds", "fill_missing", "key", "shard"})
    fields.push_back(f);
  for (const char* field : fields) {
    const nlohmann::json& value = a.at(field);
    if (b.at(field) == value) continue;
    const char* flag = FlagOf(field);
    return absl::FailedPreconditionError(absl::StrCat(
        "--resume: ", flag ? flag : absl::StrCat("--", field),
        " differs from the run that wrote the output (was ", value.dump(),
        ", now ", b.at(field).dump(),
        "); rerun with the same options, or use --overwrite or another "
        "--output"));
  }
  return absl::OkStatus();
}

}  // namespace nio::client
