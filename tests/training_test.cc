// The training pipeline end to end on synthetic data (a ctest fixture runs
// it): the exported model's C++ predictions equal PyTorch's, malformed rows
// are reported with their line numbers, the log's metrics are the report's.
// And the bundled model: it loads, and its card shows the report's figures.
#include <fstream>
#include <regex>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "models/model.h"
#include "models/nio_problem.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace nio {
namespace {

using nio::testing::ReadFile;

std::string Dir() { return nio::testing::GeneratedDir() + "/training"; }

// A macro: GTEST_SKIP only ends the test when written in its body.
#define NIO_SKIP_IF_NO_FIXTURE()                                                 \
  do {                                                                           \
    if (std::ifstream(Dir() + "/SKIP")) GTEST_SKIP() << ReadFile(Dir() + "/SKIP"); \
  } while (0)

// check.json (written by train.py --check-out): scaled inputs and the exported
// network's PyTorch predictions; the C++ engine must give the same within 1e-4.
void ExpectPredictsAsPyTorch(const models::Model& model, const std::string& check_path) {
  const auto check = nlohmann::json::parse(ReadFile(check_path));
  std::vector<float> x;
  for (const auto& row : check["x"]) {
    for (const auto& v : row) x.push_back(v.get<float>());
  }
  const int rows = static_cast<int>(check["x"].size());
  ASSERT_GT(rows, 0);
  kernels::BackendOptions o;
  o.max_rows = 16;
  auto backend = kernels::CreateCpuBackend(model.mlp, models::MovableColumns(model.spec), o);
  ASSERT_TRUE(backend.ok());
  std::vector<float> out(rows);
  ASSERT_TRUE((*backend)->Predict(x.data(), rows, out.data()).ok());
  EXPECT_TRUE(nio::testing::AllClose(out, check["prediction"].get<std::vector<double>>(), 1e-4, 0));
}

TEST(TrainingPipelineTest, ExportedModelPredictsAsPyTorch) {
  NIO_SKIP_IF_NO_FIXTURE();
  auto model = models::LoadModel(Dir() + "/model");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->spec.FeatureIndex("Unnamed: 0"), -1) << "the row index must not be a feature";
  ExpectPredictsAsPyTorch(*model, Dir() + "/check.json");
}

TEST(TrainingPipelineTest, MalformedRowsAreReportedWithLineNumbers) {
  NIO_SKIP_IF_NO_FIXTURE();
  const auto bad = nlohmann::json::parse(ReadFile(Dir() + "/bad_lines.json"));
  const std::string log = ReadFile(Dir() + "/train.log");
  const auto check = nlohmann::json::parse(ReadFile(Dir() + "/check.json"));
  EXPECT_EQ(check["bad_rows"].size(), bad.size());
  for (const auto& [line, field] : bad.items()) {
    // e.g. "bad row at line 253: danceability: not a number: 'very danceable'"
    const std::regex needle("bad row at line " + line + ": [^\n]*" + field.get<std::string>());
    EXPECT_TRUE(std::regex_search(log, needle)) << "line " << line << " (" << field << ")\n" << log;
  }
  EXPECT_NE(log.find("4 bad"), std::string::npos);
}

TEST(TrainingPipelineTest, CardShowsThePrintedMetrics) {
  NIO_SKIP_IF_NO_FIXTURE();
  const auto report = nlohmann::json::parse(ReadFile(Dir() + "/model/training_report.json"));
  const std::string log = ReadFile(Dir() + "/train.log");
  const std::string card = ReadFile(Dir() + "/model/README.md");
  for (const auto& [name, m] : report["metrics"].items()) {
    const std::string printed = absl::StrFormat("test %-28s RMSE %.3f  MAE %.3f  R^2 %.3f", name,
                                                m["rmse"].get<double>(), m["mae"].get<double>(),
                                                m["r2"].get<double>());
    EXPECT_NE(log.find(printed), std::string::npos) << printed;
    EXPECT_NE(card.find(absl::StrFormat("| %.3f | %.3f | %.3f |", m["rmse"].get<double>(),
                                        m["mae"].get<double>(), m["r2"].get<double>())),
              std::string::npos)
        << name;
  }
}

TEST(TrainingPipelineTest, SameDataGivesTheSameModelBitForBit) {
  NIO_SKIP_IF_NO_FIXTURE();
  const std::string weights = ReadFile(Dir() + "/model/weights.safetensors");
  ASSERT_FALSE(weights.empty());
  EXPECT_TRUE(weights == ReadFile(Dir() + "/model_again/weights.safetensors"))
      << "two runs on the same data gave different weights: a seed is not fixed";
  auto report = nlohmann::json::parse(ReadFile(Dir() + "/model/training_report.json"));
  auto again = nlohmann::json::parse(ReadFile(Dir() + "/model_again/training_report.json"));
  for (auto* r : {&report, &again}) {
    r->erase("date");
    r->erase("timings");
  }
  EXPECT_EQ(report, again) << nlohmann::json::diff(report, again).dump(1);
}

// The fallback without data: a student distilled from the original app's
// model (the fixture runs it when ../shared/seed-model exists).
std::string DistilledDir() { return Dir() + "/distilled"; }

TEST(DistilledFromSeedTest, ExportedModelPredictsAsPyTorchWithoutTheRowIndex) {
  if (std::ifstream(DistilledDir() + "/SKIP")) GTEST_SKIP() << ReadFile(DistilledDir() + "/SKIP");
  auto model = models::LoadModel(DistilledDir() + "/model");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->spec.FeatureIndex("Unnamed: 0"), -1) << "the student must not take the row index";
  EXPECT_EQ(model->mlp.InputSize(), 127);
  EXPECT_EQ(model->spec.categorical.values.size(), 114u);
  ExpectPredictsAsPyTorch(*model, DistilledDir() + "/check.json");
}

TEST(DistilledFromSeedTest, CardSaysSoAndShowsThePrintedAgreement) {
  if (std::ifstream(DistilledDir() + "/SKIP")) GTEST_SKIP() << ReadFile(DistilledDir() + "/SKIP");
  const auto report = nlohmann::json::parse(ReadFile(DistilledDir() + "/model/training_report.json"));
  const std::string log = ReadFile(DistilledDir() + "/train.log");
  const std::string card = ReadFile(DistilledDir() + "/model/README.md");
  EXPECT_EQ(report["mode"], "distilled_from_seed");
  EXPECT_NE(log.find("does not exist: distilling the student from the seed model"), std::string::npos)
      << log;
  EXPECT_NE(card.find("**Distilled from the original app's model, not trained on data**"),
            std::string::npos)
      << card;
  const auto& a = report["metrics"]["student_vs_seed_teacher"];
  EXPECT_NE(log.find(absl::StrFormat("held-out %-28s RMSE %.3f  MAE %.3f  R^2 %.3f",
                                     "student_vs_seed_teacher", a["rmse"].get<double>(),
                                     a["mae"].get<double>(), a["r2"].get<double>())),
            std::string::npos)
      << log;
  EXPECT_NE(card.find(absl::StrFormat("| %.3f | %.3f | %.3f |", a["rmse"].get<double>(),
                                      a["mae"].get<double>(), a["r2"].get<double>())),
            std::string::npos);
  EXPECT_NE(card.find(report["data"]["seed_model_sha256"].get<std::string>()), std::string::npos);
  // Every genre drawn equally.
  EXPECT_EQ(report["draws"]["train"].get<int>(), 114 * report["draws"]["per_genre_train"].get<int>());
}

TEST(TrainingPipelineTest, TestFiguresSplitByWhetherTheTrackWasSeenUnderAnotherGenre) {
  // The synthetic CSV lists every tenth track twice, under two genres: some
  // test rows are tracks the training split holds under the other genre.
  NIO_SKIP_IF_NO_FIXTURE();
  const auto report = nlohmann::json::parse(ReadFile(Dir() + "/model/training_report.json"));
  const std::string card = ReadFile(Dir() + "/model/README.md");
  const auto& kinds = report["metrics_by_track_kind"];
  ASSERT_TRUE(kinds.contains("track_in_training_split")) << kinds;
  ASSERT_TRUE(kinds.contains("unseen_track")) << kinds;
  EXPECT_EQ(kinds["track_in_training_split"]["rows"].get<int>() + kinds["unseen_track"]["rows"].get<int>(),
            report["split"]["test"].get<int>());
  for (const auto& [kind, m] : kinds.items()) {
    EXPECT_NE(card.find(absl::StrFormat("| %d | %.3f | %.3f |", m["rows"].get<int>(),
                                        m["xgboost_teacher"]["rmse"].get<double>(),
                                        m["hybrid_student"]["rmse"].get<double>())),
              std::string::npos)
        << kind << "\n" << card;
  }
  const std::string log = ReadFile(Dir() + "/train.log");
  const int copies = report["config"]["genre_swap_copies"].get<int>();
  EXPECT_EQ(copies, 2) << "the pipeline's default";
  EXPECT_NE(log.find(absl::StrFormat("%d teacher-labelled genre swaps (colisted, %d per training row)",
                                     copies * report["split"]["train"].get<int>(), copies)),
            std::string::npos)
      << log;
}

TEST(BundledModelTest, LoadsAndItsCardIsGeneratedFromTheReport) {
  const std::string dir = std::string(NIO_SOURCE_DIR) + "/models/bundled";
  auto model = models::LoadModel(dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->spec.FeatureIndex("Unnamed: 0"), -1) << "the bundled model must not use the row index";
  EXPECT_EQ(model->spec.categorical.values.size(), 114u);
  EXPECT_GE(model->spec.presets.size(), 4u);
  const auto report = nlohmann::json::parse(ReadFile(dir + "/training_report.json"));
  const std::string card = ReadFile(dir + "/README.md");
  for (const auto& [name, m] : report["metrics"].items()) {
    EXPECT_NE(card.find(absl::StrFormat("| %.3f | %.3f | %.3f |", m["rmse"].get<double>(),
                                        m["mae"].get<double>(), m["r2"].get<double>())),
              std::string::npos)
        << name;
  }
  EXPECT_NE(card.find(report["data"]["sha256"].get<std::string>()), std::string::npos);
  // The student was trained on the real data set (all 114 genres), not a
  // stand-in, and its figures are sane for popularity (0..100).
  EXPECT_EQ(report["data"]["genres"], 114);
  EXPECT_LT(report["metrics"]["hybrid_student"]["rmse"].get<double>(), 25.0);
}

}  // namespace
}  // namespace nio
