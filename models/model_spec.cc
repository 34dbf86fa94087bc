#include "models/model_spec.h"

#include <cmath>
#include <limits>
#include <set>

#include "absl/strings/str_cat.h"
#include "kernels/status_macros.h"
#include "models/feature_validity.h"
#include "nlohmann/json.hpp"

namespace nio::models {
namespace {

using Json = nlohmann::json;

// Reads fields of one JSON object with errors that name the field path.
class Fields {
 public:
  Fields(const Json& object, std::string path, const std::string& source)
      : object_(object), path_(std::move(path)), source_(source) {}

  absl::Status Error(const std::string& field, const std::string& what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(source_, ": ", Path(field), ": ", what));
  }
  std::string Path(const std::string& field) const {
    return path_.empty() ? field : absl::StrCat(path_, ".", field);
  }
  bool Has(const std::string& field) const { return object_.contains(field); }
  const std::string& Source() const { return source_; }

  absl::Status String(const std::string& field, std::string* out,
                      bool required = true) const {
    auto it = object_.find(field);
    if (it == object_.end())
      return required ? Error(field, "missing") : absl::OkStatus();
    if (!it->is_string()) return Error(field, "must be a string");
    *out = it->get<std::string>();
    return absl::OkStatus();
  }
  absl::Status Number(const std::string& field, double* out,
                      bool required = true) const {
    auto it = object_.find(field);
    if (it == object_.end())
      return required ? Error(field, "missing") : absl::OkStatus();
    if (!it->is_number()) return Error(field, "must be a number");
    *out = it->get<double>();
    if (!std::isfinite(*out)) return Error(field, "must be finite");
    return absl::OkStatus();
  }
  absl::Status Int(const std::string& field, int* out,
                   bool required = true) const {
    auto it = object_.find(field);
    if (it == object_.end())
      return required ? Error(field, "missing") : absl::OkStatus();
    if (!it->is_number_integer()) return Error(field, "must be an integer");
    const int64_t v = it->get<int64_t>();
    if (v < INT32_MIN || v > INT32_MAX) return Error(field, "out of range");
    *out = static_cast<int>(v);
    return absl::OkStatus();
  }
  absl::Status Bool(const std::string& field, bool* out,
                    bool required = true) const {
    auto it = object_.find(field);
    if (it == object_.end())
      return required ? Error(field, "missing") : absl::OkStatus();
    if (!it->is_boolean()) return Error(field, "must be true or false");
    *out = it->get<bool>();
    return absl::OkStatus();
  }
  absl::StatusOr<const Json*> Object(const std::string& field) const {
    auto it = object_.find(field);
    if (it == object_.end()) return Error(field, "missing");
    if (!it->is_object()) return Error(field, "must be an object");
    return &*it;
  }
  absl::StatusOr<const Json*> Array(const std::string& field) const {
    auto it = object_.find(field);
    if (it == object_.end()) return Error(field, "missing");
    if (!it->is_array()) return Error(field, "must be an array");
    return &*it;
  }

 private:
  const Json& object_;
  std::string path_;
  const std::string& source_;
};

// "valid": {"min": m, "max": M, "min_exclusive": b, "max_exclusive": b},
// every field optional (a missing bound is unbounded). Without it: [0, 1]
// for binary and one-hot features, unbounded otherwise. The realistic range
// must lie inside it.
absl::Status ParseValidRange(const Fields& fields, FeatureSpec* f) {
  ValidRange& v = f->valid;
  if (!fields.Has("valid")) {
    if (f->kind == FeatureKind::kBinary || f->kind == FeatureKind::kOneHot) {
      v.min = 0.0;
      v.max = 1.0;
    }
  } else {
    auto object = fields.Object("valid");
    if (!object.ok()) return object.status();
    Fields vf(**object, fields.Path("valid"), fields.Source());
    for (const auto& [key, _] : (*object)->items()) {
      if (key != "min" && key != "max" && key != "min_exclusive" &&
          key != "max_exclusive") {
        return vf.Error(
            key, "unknown field (min, max, min_exclusive, max_exclusive)");
      }
    }
    double bound = 0;
    if (vf.Has("min")) {
      NIO_RETURN_IF_ERROR(vf.Number("min", &bound));
      v.min = bound;
    }
    if (vf.Has("max")) {
      NIO_RETURN_IF_ERROR(vf.Number("max", &bound));
      v.max = bound;
    }
    NIO_RETURN_IF_ERROR(vf.Bool("min_exclusive", &v.min_exclusive, false));
    NIO_RETURN_IF_ERROR(vf.Bool("max_exclusive", &v.max_exclusive, false));
    if (v.min_exclusive && !v.min)
      return vf.Error("min_exclusive", "needs min");
    if (v.max_exclusive && !v.max)
      return vf.Error("max_exclusive", "needs max");
    if (v.min && v.max && *v.min > *v.max) return vf.Error("min", "min > max");
  }
  if (f->kind == FeatureKind::kOneHot) return absl::OkStatus();
  // Checked by value: a whole-valued kind needs a whole value in range, and
  // the realistic range (the UI's slider, the post-hoc clamp) must be valid.
  if (!CheckFeatureValue(*f, DefaultRawValue(*f)).ok()) {
    return fields.Error(
        "valid", absl::StrCat("holds no value a ", FeatureKindName(f->kind),
                              " feature can take"));
  }
  for (double end : {f->range_min, f->range_max}) {
    if (absl::Status s = CheckFeatureValue(*f, end); !s.ok()) {
      return fields.Error("range",
                          absl::StrCat("[", f->range_min, ", ", f->range_max,
                                       "] is not inside the valid range ",
                                       DescribeValidRange(*f)));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseFeature(const Json& j, const std::string& path,
                          const std::string& source, FeatureSpec* f) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", path, ": must be an object"));
  }
  Fields fields(j, path, source);
  NIO_RETURN_IF_ERROR(fields.String("name", &f->name));
  if (f->name.empty()) return fields.Error("name", "must not be empty");
  std::string kind;
  NIO_RETURN_IF_ERROR(fields.String("kind", &kind));
  if (kind == "numeric") {
    f->kind = FeatureKind::kNumeric;
  } else if (kind == "binary") {
    f->kind = FeatureKind::kBinary;
  } else if (kind == "integer") {
    f->kind = FeatureKind::kInteger;
  } else if (kind == "one_hot") {
    f->kind = FeatureKind::kOneHot;
    NIO_RETURN_IF_ERROR(fields.String("category", &f->category));
  } else {
    return fields.Error(
        "kind", absl::StrCat("unknown kind '", kind,
                             "' (numeric, integer, binary or one_hot)"));
  }
  NIO_RETURN_IF_ERROR(fields.Number("mean", &f->mean));
  NIO_RETURN_IF_ERROR(fields.Number("scale", &f->scale));
  if (!(f->scale > 0)) return fields.Error("scale", "must be positive");
  if (f->kind == FeatureKind::kOneHot) {
    f->range_min = 0;
    f->range_max = 1;
  } else {
    auto range = fields.Array("range");
    if (!range.ok()) return range.status();
    const Json& r = **range;
    if (r.size() != 2 || !r[0].is_number() || !r[1].is_number() ||
        !std::isfinite(r[0].get<double>()) ||
        !std::isfinite(r[1].get<double>())) {
      return fields.Error("range", "must be [min, max], two finite numbers");
    }
    f->range_min = r[0].get<double>();
    f->range_max = r[1].get<double>();
    if (f->range_min > f->range_max) return fields.Error("range", "min > max");
  }
  // Every value a track may take scales to a finite float (feature_validity.h)
  // and the UI's slider ends are such values: the scale must not be so small
  // that the range's ends overflow one (a one-hot column's ends are 0 and 1).
  for (double end : {f->range_min, f->range_max}) {
    if (!(std::abs((end - f->mean) / f->scale) <=
          std::numeric_limits<float>::max())) {
      return fields.Error(
          "scale",
          absl::StrCat(f->scale, " scales the range end ", end, " (mean ",
                       f->mean, ") beyond a float's range"));
    }
  }
  NIO_RETURN_IF_ERROR(ParseValidRange(fields, f));
  NIO_RETURN_IF_ERROR(fields.Bool("mutable", &f->mutable_by_default, false));
  if (f->mutable_by_default) {
    if (absl::Status s = CheckMovable(*f); !s.ok()) {
      return fields.Error("mutable", std::string(s.message()));
    }
  }
  NIO_RETURN_IF_ERROR(fields.String("description", &f->description, false));
  return absl::OkStatus();
}

}  // namespace

int ModelSpec::FeatureIndex(const std::string& feature_name) const {
  for (size_t i = 0; i < features.size(); ++i) {
    if (features[i].name == feature_name) return static_cast<int>(i);
  }
  return -1;
}

const char* FeatureKindName(FeatureKind kind) {
  switch (kind) {
    case FeatureKind::kNumeric:
      return "numeric";
    case FeatureKind::kBinary:
      return "binary";
    case FeatureKind::kInteger:
      return "integer";
    case FeatureKind::kOneHot:
      return "one_hot";
  }
  return "?";
}

const char* NioModeName(NioMode mode) {
  return mode == NioMode::kProjected ? "projected" : "reference";
}

absl::StatusOr<NioMode> ParseNioMode(const std::string& text) {
  if (text == "reference") return NioMode::kReference;
  if (text == "projected") return NioMode::kProjected;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown mode '", text, "' (reference or projected)"));
}

const char* OptimizerName(Optimizer optimizer) {
  return optimizer == Optimizer::kLbfgs ? "lbfgs" : "adam";
}

absl::StatusOr<Optimizer> ParseOptimizer(const std::string& text) {
  if (text == "adam") return Optimizer::kAdam;
  if (text == "lbfgs") return Optimizer::kLbfgs;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown optimizer '", text, "' (adam or lbfgs)"));
}

NioDefaults DefaultsFor(const NioDefaults& model, Optimizer optimizer) {
  if (optimizer == model.optimizer) return model;
  NioDefaults d = model;
  d.optimizer = optimizer;
  const bool lbfgs = optimizer == Optimizer::kLbfgs;
  d.steps = lbfgs ? kLbfgsDefaultSteps : kAdamDefaultSteps;
  d.starts = lbfgs ? kLbfgsDefaultStarts : 1;
  d.start_pool = 0;
  return d;
}

absl::StatusOr<ModelSpec> ParseModelSpec(const std::string& json_text,
                                         const std::string& source) {
  Json root = Json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON"));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": must be a JSON object"));
  }
  Fields top(root, "", source);
  ModelSpec spec;
  NIO_RETURN_IF_ERROR(top.Int("format_version", &spec.format_version));
  if (spec.format_version != kModelFormatVersion) {
    return top.Error("format_version",
                     absl::StrCat("version ", spec.format_version,
                                  " is not supported (this build reads ",
                                  kModelFormatVersion, ")"));
  }
  NIO_RETURN_IF_ERROR(top.String("name", &spec.name));
  if (spec.name.empty()) return top.Error("name", "must not be empty");
  NIO_RETURN_IF_ERROR(top.String("version", &spec.version));
  if (spec.version.empty()) return top.Error("version", "must not be empty");
  NIO_RETURN_IF_ERROR(top.String("description", &spec.description, false));
  NIO_RETURN_IF_ERROR(top.String("output_name", &spec.output_name, false));

  // Network.
  auto network = top.Object("network");
  if (!network.ok()) return network.status();
  Fields net(**network, "network", source);
  auto sizes = net.Array("layer_sizes");
  if (!sizes.ok()) return sizes.status();
  for (const Json& s : **sizes) {
    if (!s.is_number_integer() || s.get<int64_t>() <= 0 ||
        s.get<int64_t>() > (1 << 20)) {
      return net.Error("layer_sizes", "entries must be positive integers");
    }
    spec.layer_sizes.push_back(static_cast<int>(s.get<int64_t>()));
  }
  if (spec.layer_sizes.size() < 2)
    return net.Error("layer_sizes", "needs at least inputs and output");
  if (spec.layer_sizes.back() != 1)
    return net.Error("layer_sizes", "the last size (outputs) must be 1");
  NIO_RETURN_IF_ERROR(net.String("activation", &spec.activation));
  if (spec.activation != "relu") {
    return net.Error("activation", absl::StrCat("'", spec.activation,
                                                "' is not supported (relu)"));
  }

  // Categorical.
  auto cat = top.Object("categorical");
  if (!cat.ok()) return cat.status();
  Fields catf(**cat, "categorical", source);
  NIO_RETURN_IF_ERROR(catf.String("name", &spec.categorical.name));
  NIO_RETURN_IF_ERROR(catf.String("reference", &spec.categorical.reference));
  auto values = catf.Array("values");
  if (!values.ok()) return values.status();
  std::set<std::string> value_set;
  for (const Json& v : **values) {
    if (!v.is_string() || v.get<std::string>().empty()) {
      return catf.Error("values", "entries must be non-empty strings");
    }
    if (!value_set.insert(v.get<std::string>()).second) {
      return catf.Error("values", absl::StrCat("duplicate value '",
                                               v.get<std::string>(), "'"));
    }
    spec.categorical.values.push_back(v.get<std::string>());
  }
  if (!value_set.count(spec.categorical.reference)) {
    return catf.Error("reference", absl::StrCat("'", spec.categorical.reference,
                                                "' is not one of values"));
  }

  // Features.
  auto features = top.Array("features");
  if (!features.ok()) return features.status();
  std::set<std::string> names;
  std::set<std::string> one_hot_values;
  for (size_t i = 0; i < (*features)->size(); ++i) {
    FeatureSpec f;
    const std::string path = absl::StrCat("features[", i, "]");
    NIO_RETURN_IF_ERROR(ParseFeature((**features)[i], path, source, &f));
    if (!names.insert(f.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": ", path, ".name: duplicate feature '", f.name, "'"));
    }
    if (f.kind == FeatureKind::kOneHot) {
      if (!value_set.count(f.category) ||
          f.category == spec.categorical.reference) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": ", path, ".category: '", f.category,
            "' is not a non-reference value of ", spec.categorical.name));
      }
      if (!one_hot_values.insert(f.category).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": ", path, ".category: '", f.category,
                         "' has two columns"));
      }
    }
    spec.features.push_back(std::move(f));
  }
  if (one_hot_values.size() + 1 != value_set.size()) {
    return top.Error(
        "features",
        absl::StrCat("has one-hot columns for ", one_hot_values.size(),
                     " of the ", value_set.size() - 1,
                     " non-reference values of ", spec.categorical.name));
  }
  if (static_cast<int>(spec.features.size()) != spec.layer_sizes.front()) {
    return top.Error("features",
                     absl::StrCat(spec.features.size(),
                                  " features but network.layer_sizes[0] is ",
                                  spec.layer_sizes.front()));
  }

  // NIO defaults (optional: the design's defaults otherwise).
  if (top.Has("nio_defaults")) {
    auto d = top.Object("nio_defaults");
    if (!d.ok()) return d.status();
    Fields df(**d, "nio_defaults", source);
    NIO_RETURN_IF_ERROR(df.Int("steps", &spec.defaults.steps, false));
    NIO_RETURN_IF_ERROR(df.Number("lr", &spec.defaults.lr, false));
    NIO_RETURN_IF_ERROR(df.Number("lambda", &spec.defaults.lambda, false));
    NIO_RETURN_IF_ERROR(df.Int("starts", &spec.defaults.starts, false));
    // Without a mode: projected. Only a model that asks for the original
    // app's semantics (its converted model) gets reference.
    std::string mode = NioModeName(spec.defaults.mode);
    NIO_RETURN_IF_ERROR(df.String("mode", &mode, false));
    auto m = ParseNioMode(mode);
    if (!m.ok()) return df.Error("mode", std::string(m.status().message()));
    spec.defaults.mode = *m;
    std::string optimizer = OptimizerName(spec.defaults.optimizer);
    NIO_RETURN_IF_ERROR(df.String("optimizer", &optimizer, false));
    auto o = ParseOptimizer(optimizer);
    if (!o.ok())
      return df.Error("optimizer", std::string(o.status().message()));
    spec.defaults.optimizer = *o;
    if (spec.defaults.optimizer == Optimizer::kLbfgs &&
        spec.defaults.mode != NioMode::kProjected) {
      return df.Error("optimizer", "lbfgs needs mode projected");
    }
    NIO_RETURN_IF_ERROR(df.Int("start_pool", &spec.defaults.start_pool, false));
    if (spec.defaults.start_pool < 0 ||
        spec.defaults.start_pool > kMaxStartPool) {
      return df.Error("start_pool",
                      absl::StrCat("must be in [0, ", kMaxStartPool, "]"));
    }
    // The same ranges as a request's options: a default a request could not
    // ask for would only fail later, on every track that takes it.
    if (spec.defaults.steps < 1 || spec.defaults.steps > kMaxSteps)
      return df.Error("steps", absl::StrCat("must be in [1, ", kMaxSteps, "]"));
    if (!std::isfinite(spec.defaults.lr) || spec.defaults.lr < kMinLr ||
        spec.defaults.lr > kMaxLr)
      return df.Error("lr", absl::StrCat("must be in (0, ", kMaxLr, "]"));
    if (!std::isfinite(spec.defaults.lambda) || spec.defaults.lambda < 0 ||
        spec.defaults.lambda > kMaxLambda)
      return df.Error("lambda",
                      absl::StrCat("must be in [0, ", kMaxLambda, "]"));
    if (spec.defaults.starts < 1 || spec.defaults.starts > kMaxStarts)
      return df.Error("starts",
                      absl::StrCat("must be in [1, ", kMaxStarts, "]"));
  }

  // Presets (optional).
  if (top.Has("presets")) {
    auto presets = top.Array("presets");
    if (!presets.ok()) return presets.status();
    std::set<std::string> preset_names;
    for (size_t i = 0; i < (*presets)->size(); ++i) {
      const std::string path = absl::StrCat("presets[", i, "]");
      const Json& pj = (**presets)[i];
      if (!pj.is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": ", path, ": must be an object"));
      }
      Fields pf(pj, path, source);
      Preset p;
      NIO_RETURN_IF_ERROR(pf.String("name", &p.name));
      if (p.name.empty() || !preset_names.insert(p.name).second) {
        return pf.Error("name", "must be non-empty and unique");
      }
      NIO_RETURN_IF_ERROR(pf.String("label", &p.label, false));
      NIO_RETURN_IF_ERROR(pf.String("description", &p.description, false));
      NIO_RETURN_IF_ERROR(pf.String("genre", &p.genre));
      if (!value_set.count(p.genre)) {
        return pf.Error("genre", absl::StrCat("unknown genre '", p.genre, "'"));
      }
      auto fo = pf.Object("features");
      if (!fo.ok()) return fo.status();
      for (const auto& [fname, fval] : (*fo)->items()) {
        const int idx = spec.FeatureIndex(fname);
        if (idx < 0 || spec.features[idx].kind == FeatureKind::kOneHot) {
          return pf.Error("features",
                          absl::StrCat("unknown feature '", fname, "'"));
        }
        if (!fval.is_number() || !std::isfinite(fval.get<double>())) {
          return pf.Error(absl::StrCat("features.", fname),
                          "must be a finite number");
        }
        if (absl::Status s =
                CheckFeatureValue(spec.features[idx], fval.get<double>());
            !s.ok()) {
          return pf.Error(absl::StrCat("features.", fname),
                          std::string(s.message()));
        }
        p.features.emplace_back(fname, fval.get<double>());
      }
      spec.presets.push_back(std::move(p));
    }
  }
  return spec;
}

std::vector<int> MovableColumns(const ModelSpec& spec) {
  std::vector<int> columns;
  for (size_t i = 0; i < spec.features.size(); ++i) {
    if (spec.features[i].kind != FeatureKind::kOneHot) {
      columns.push_back(static_cast<int>(i));
    }
  }
  return columns;
}

}  // namespace nio::models
