// The `nio` CLI end to end against the real nio-server binary: info,
// optimize with each preset, a batch with bad rows, kill + --resume, shards,
// and --local equal to the server.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/process_util.h"
#include "tests/test_util.h"

namespace nio {
namespace {

namespace fs = std::filesystem;
using nio::testing::ChildProcess;
using nio::testing::RunResult;
using namespace std::chrono_literals;

std::string TinyModel() { return nio::testing::TestDataDir() + "/tiny_model"; }

RunResult RunNio(std::vector<std::string> args,
                 std::chrono::seconds timeout = 120s) {
  args.insert(args.begin(), NIO_CLI_BINARY);
  return nio::testing::RunProgram(args, timeout);
}

std::map<std::string, nlohmann::json> ReadJsonl(const std::string& path) {
  std::map<std::string, nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(out.count(j["id"]), 0u) << "id twice: " << j["id"];
    out[j["id"]] = j;
  }
  return out;
}

class CliE2ETest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new fs::path(nio::testing::FreshScratchDir("nio_cli_e2e"));
    // A catalog for the tiny model: 300 tracks, 3 bad rows and a duplicate
    // (all in bad_lines_: each is reported with its line).
    catalog_ = new std::string((*dir_ / "catalog.csv").string());
    std::ofstream out(*catalog_);
    out << ",track_id,artists,popularity,duration_ms,explicit,danceability,"
           "energy,loudness,mode,"
           "acousticness,valence,tempo,track_genre\n";
    std::mt19937 rng(3);
    std::uniform_real_distribution<double> u(0, 1);
    const char* genres[] = {"acoustic", "chill", "edm", "pop", "sad"};
    int line = 1;
    for (int i = 0; i < 304; ++i) {
      ++line;
      if (i == 50) {
        out << i << ",bad-fields,x,1,2\n";
        bad_lines_->insert(line);
        continue;
      }
      if (i == 120) {
        out << i
            << ",bad-number,x,10,200000,False,lots,0.5,-8,1,0.2,0.5,120,pop\n";
        bad_lines_->insert(line);
        continue;
      }
      if (i == 200) {
        out << i
            << ",bad-genre,x,10,200000,False,0.5,0.5,-8,1,0.2,0.5,120,polka\n";
        bad_lines_->insert(line);
        continue;
      }
      if (i == 250) {
        // t0007's key again (its id and genre): a duplicate.
        out << i << ",t0007,x,10,200000,False,0.5,0.5,-8,1,0.2,0.5,120,edm\n";
        bad_lines_->insert(line);
        continue;
      }
      char id[16];
      std::snprintf(id, sizeof(id), "t%04d", i);
      out << i << "," << id << ",artist," << int(u(rng) * 100) << ","
          << int(100000 + u(rng) * 200000) << ","
          << (u(rng) < 0.1 ? "True" : "False") << "," << u(rng) << "," << u(rng)
          << "," << -20 + 18 * u(rng) << "," << (u(rng) < 0.5) << "," << u(rng)
          << "," << u(rng) << "," << 60 + 140 * u(rng) << "," << genres[i % 5]
          << "\n";
    }
    out.close();
    server_ = new ChildProcess({NIO_SERVER_BINARY, "--model_dir", TinyModel(),
                                "--listen", "127.0.0.1:0", "--http_listen",
                                "127.0.0.1:0", "--backend", "cpu",
                                "--max_batch", "64"});
    ASSERT_TRUE(server_->WaitForOutput("listening on", 30s))
        << server_->output();
    std::smatch m;
    const std::string log = server_->output();
    ASSERT_TRUE(
        std::regex_search(log, m, std::regex("listening on ([0-9.]+:[0-9]+)")));
    address_ = new std::string(m[1]);
  }
  static void TearDownTestSuite() {
    delete server_;
    fs::remove_all(*dir_);
  }
  static std::string Out(const std::string& name) {
    return (*dir_ / name).string();
  }

  static fs::path* dir_;
  static std::string* catalog_;
  static std::set<int>* bad_lines_;
  static ChildProcess* server_;
  static std::string* address_;
};
fs::path* CliE2ETest::dir_ = nullptr;
std::string* CliE2ETest::catalog_ = nullptr;
std::set<int>* CliE2ETest::bad_lines_ = new std::set<int>();
ChildProcess* CliE2ETest::server_ = nullptr;
std::string* CliE2ETest::address_ = nullptr;

TEST_F(CliE2ETest, InfoListsModelFeaturesGenresAndPresets) {
  const auto r = RunNio({"info", "--server", *address_});
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* s : {"tiny-random", "danceability", "0.000..1.000",
                        "Genres (5)", "chill", "sad-ballad", "cpu"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
}

TEST_F(CliE2ETest, HealthExitsZeroOnlyWhenServing) {
  const auto r = RunNio({"health", "--server", *address_});
  EXPECT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output, "SERVING\n");
  const auto j = RunNio({"health", "--server", *address_, "--service",
                         "nio.v1.Nio", "--format", "json"});
  EXPECT_EQ(j.code, 0) << j.output;
  auto parsed = nlohmann::json::parse(j.output);
  EXPECT_EQ(parsed["status"], "SERVING");
  EXPECT_EQ(parsed["service"], "nio.v1.Nio");
  const auto unknown =
      RunNio({"health", "--server", *address_, "--service", "no.such.Service"});
  EXPECT_EQ(unknown.code, 4) << unknown.output;
  EXPECT_NE(unknown.output.find("no service 'no.such.Service'"),
            std::string::npos)
      << unknown.output;
  // Nothing listens: exit 3 within the timeout, as a probe needs.
  const auto start = std::chrono::steady_clock::now();
  const auto none =
      RunNio({"health", "--server", "127.0.0.1:1", "--timeout_s", "1"});
  EXPECT_EQ(none.code, 3) << none.output;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_EQ(RunNio({"health", "--timeout_s", "0"}).code, 1);
}

TEST_F(CliE2ETest, OptimizeEachPresetHumanAndJson) {
  for (const char* preset : {"custom", "chill", "edm", "sad-ballad"}) {
    const auto r = RunNio({"optimize", "--server", *address_, "--preset",
                           preset, "--steps", "50"});
    ASSERT_EQ(r.code, 0) << preset << "\n" << r.output;
    const auto j = RunNio({"optimize", "--server", *address_, "--preset",
                           preset, "--steps", "50", "--format", "json"});
    ASSERT_EQ(j.code, 0) << j.output;
    auto parsed = nlohmann::json::parse(j.output).at(0);
    // The tiny model asks for the original's semantics: labelled so.
    EXPECT_NE(
        r.output.find(
            "Mode                reference (the original app's semantics"),
        std::string::npos)
        << r.output;
    const bool improved = parsed["improved"].get<bool>();
    EXPECT_EQ(improved, parsed["delta"].get<double>() > 0);
    std::vector<const char*> expected = {"Popularity before"};
    if (improved) {
      expected.insert(
          expected.end(),
          {"Popularity after", "Suggestions:", "original", "optimized", "|"});
    } else {
      expected.insert(expected.end(),
                      {"No improving change found", "--show-best"});
      EXPECT_EQ(r.output.find("Suggestions:"), std::string::npos);
    }
    for (const char* s : expected) {
      EXPECT_NE(r.output.find(s), std::string::npos) << preset << ": " << s;
    }
    EXPECT_EQ(parsed["steps_run"], 50);
    EXPECT_NEAR(parsed["delta"].get<double>(),
                parsed["prediction_after"].get<double>() -
                    parsed["prediction_before"].get<double>(),
                1e-9);
  }
  // Errors: unknown preset, unknown feature, no server.
  EXPECT_EQ(
      RunNio({"optimize", "--server", *address_, "--preset", "polka"}).code, 2);
  const auto bad = RunNio({"optimize", "--server", *address_, "--genre", "pop",
                           "--set", "speed=3"});
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.output.find("speed"), std::string::npos);
  EXPECT_EQ(RunNio({"info", "--server", "127.0.0.1:1"}, 60s).code, 3);
  EXPECT_EQ(RunNio({"optimize", "--bogus-flag"}).code, 1);
}

TEST_F(CliE2ETest, MixedBenchReportsCatalogRateAndOneTrackLatency) {
  const auto r =
      RunNio({"bench", "--server", *address_, "--mixed", "--concurrency", "2",
              "--tracks", "4", "--duration", "1", "--warmup", "0.2", "--steps",
              "20", "--interactive-rate", "10", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["mode"], "mixed");
  for (const char* phase : {"one_track_idle", "one_track_mixed"}) {
    EXPECT_EQ(j[phase]["calls"], 10) << phase;
    EXPECT_EQ(j[phase]["errors"], 0) << phase;
    EXPECT_GT(j[phase]["p50_ms"].get<double>(), 0) << phase;
    EXPECT_GE(j[phase]["p99_ms"].get<double>(),
              j[phase]["p50_ms"].get<double>())
        << phase;
  }
  EXPECT_GT(j["catalog_alone_tracks_per_s"].get<double>(), 0);
  EXPECT_GT(j["catalog_mixed_tracks_per_s"].get<double>(), 0);
  EXPECT_EQ(j["stream_errors"], 0);
  // Its options do nothing without --mixed: refused.
  EXPECT_EQ(
      RunNio({"bench", "--server", *address_, "--interactive-rate", "3"}).code,
      1);
}

TEST_F(CliE2ETest, BatchReportsBadRowsAndDoesTheRest) {
  const auto r =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              Out("all.jsonl"), "--steps", "40", "--progress", "plain"});
  EXPECT_EQ(r.code, 5) << r.output;  // done, with bad rows
  EXPECT_NE(r.output.find("duplicate row skipped: " + *catalog_ +
                          ": line 252: track_id 't0007', track_genre 'edm' "
                          "already at line 9"),
            std::string::npos)
      << r.output;
  for (int line : *bad_lines_) {
    EXPECT_NE(r.output.find("line " + std::to_string(line)), std::string::npos)
        << line << "\n"
        << r.output;
  }
  const auto results = ReadJsonl(Out("all.jsonl"));
  // 300 good rows, one of them polka (answered with an error), one duplicate.
  EXPECT_EQ(results.size(), 301u);
  int ok = 0;
  for (const auto& [id, j] : results) ok += j["status"] == "ok";
  EXPECT_EQ(ok, 300);
  EXPECT_EQ(results.at("bad-genre")["status"], "error");
  // The summary counts improved and not improved results apart.
  int improved = 0;
  for (const auto& [id, j] : results) {
    if (j["status"] != "ok") continue;
    EXPECT_EQ(j["improved"].get<bool>(), j["delta"].get<double>() > 0) << id;
    improved += j["improved"].get<bool>();
  }
  const std::string summary =
      "Batch summary: 304 tracks: " + std::to_string(improved) + " improved, " +
      std::to_string(300 - improved) +
      " no improving change found, 1 failed, 2 bad rows skipped, 1 "
      "duplicates skipped";
  EXPECT_NE(r.output.find(summary), std::string::npos) << summary << "\n"
                                                       << r.output;
}

// Batch CSV rows by id (each id at most once).
std::map<std::string, std::vector<std::string>> ReadBatchCsv(
    const std::string& path) {
  std::map<std::string, std::vector<std::string>> rows;
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    std::vector<std::string> cols;
    std::stringstream ss(line);
    std::string c;
    while (std::getline(ss, c, ',')) cols.push_back(c);
    EXPECT_EQ(rows.count(cols[0]), 0u) << "id twice: " << cols[0];
    rows[cols[0]] = cols;
  }
  return rows;
}

// Every id of `expected` once in `got`, with the same values (numeric
// columns within 1e-3 relative, the others exactly).
void ExpectSameBatchResults(const std::string& expected,
                            const std::string& got) {
  const auto a = ReadBatchCsv(expected);
  const auto b = ReadBatchCsv(got);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [id, cols] : a) {
    ASSERT_TRUE(b.count(id)) << id;
    const auto& other = b.at(id);
    ASSERT_EQ(cols.size(), other.size()) << id;
    for (size_t c = 5; c < cols.size(); ++c) {
      auto number = [](const std::string& text, double* v) {
        char* end = nullptr;
        *v = std::strtod(text.c_str(), &end);
        return !text.empty() && *end == '\0';
      };
      double x = 0, y = 0;
      if (!number(cols[c], &x) || !number(other[c], &y)) {
        EXPECT_EQ(cols[c], other[c]) << id << " column " << c;
        continue;
      }
      EXPECT_NEAR(x, y, 1e-3 * std::max(1.0, std::fabs(x)))
          << id << " column " << c;
    }
  }
}

size_t CountLines(const std::string& path) {
  std::ifstream f(path);
  return std::count(std::istreambuf_iterator<char>(f), {}, '\n');
}

TEST_F(CliE2ETest, KilledBatchResumesToTheSameResults) {
  // 20000 steps keep the job running for about a second with a window of 16
  // (19 rounds), while the first results come after one round: the kill
  // lands midway with a wide margin, however loaded the machine.
  const std::vector<std::string> job_args = {"batch",   "--server",   *address_,
                                             "--input", *catalog_,    "--steps",
                                             "20000",   "--progress", "none"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = job_args;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const auto full = RunNio(with({"--output", Out("uninterrupted.csv")}));
  ASSERT_EQ(full.code, 5) << full.output;
  // Start again into a new file, kill it once some results are written.
  const std::string out = Out("resumed.csv");
  {
    std::vector<std::string> argv = with({"--output", out, "--window", "16"});
    argv.insert(argv.begin(), NIO_CLI_BINARY);
    ChildProcess job(argv);
    for (int i = 0; i < 6000 && CountLines(out) < 2; ++i)
      std::this_thread::sleep_for(5ms);
    job.Signal(SIGKILL);
    job.Wait(30s);
  }
  const auto partial = CountLines(out);
  EXPECT_GT(partial, 1u);
  EXPECT_LT(partial, 302u) << "the job finished before it was killed";
  const auto resumed = RunNio(with({"--output", out, "--resume"}));
  EXPECT_EQ(resumed.code, 5) << resumed.output;
  EXPECT_NE(resumed.output.find("already done"), std::string::npos);
  ExpectSameBatchResults(Out("uninterrupted.csv"), out);
}

TEST_F(CliE2ETest, ResumeDropsAHalfWrittenLastRecord) {
  // What a kill in the middle of a write leaves: 40 whole records and part of
  // the 41st, without its newline.
  const auto full =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              Out("whole.csv"), "--steps", "50", "--progress", "none"});
  ASSERT_EQ(full.code, 5) << full.output;
  const std::string out = Out("cut.csv");
  {
    std::ifstream in(Out("whole.csv"));
    std::ofstream cut(out);
    std::string line;
    for (int i = 0; i < 41 && std::getline(in, line); ++i) cut << line << "\n";
    ASSERT_TRUE(std::getline(in, line));
    cut << line.substr(0, line.size() / 2);
  }
  // The manifest a killed run leaves beside its output.
  fs::copy_file(Out("whole.csv") + ".manifest.json", out + ".manifest.json");
  const auto resumed =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              out, "--steps", "50", "--resume", "--progress", "none"});
  EXPECT_EQ(resumed.code, 5) << resumed.output;
  // 40 whole records, one of them the failed bad-genre track: run again.
  EXPECT_NE(resumed.output.find("39 already done (1 failed before, retried)"),
            std::string::npos)
      << resumed.output;
  EXPECT_EQ(CountLines(out), CountLines(Out("whole.csv")));
  ExpectSameBatchResults(Out("whole.csv"), out);
}

TEST_F(CliE2ETest, ShardsUnionToTheWholeCatalog) {
  std::map<std::string, int> seen;
  for (int i = 0; i < 4; ++i) {
    const std::string out = Out("shard" + std::to_string(i) + ".jsonl");
    const auto r = RunNio({"batch", "--server", *address_, "--input", *catalog_,
                           "--output", out, "--steps", "5", "--shard",
                           std::to_string(i) + "/4", "--progress", "none"});
    EXPECT_TRUE(r.code == 0 || r.code == 5) << r.output;
    for (const auto& [id, j] : ReadJsonl(out)) seen[id]++;
  }
  const auto all =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              Out("unsharded.jsonl"), "--steps", "5", "--progress", "none"});
  EXPECT_EQ(all.code, 5) << all.output;
  const auto whole = ReadJsonl(Out("unsharded.jsonl"));
  EXPECT_EQ(seen.size(), whole.size());
  for (const auto& [id, n] : seen) {
    EXPECT_EQ(n, 1) << id;
    EXPECT_TRUE(whole.count(id)) << id;
  }
  EXPECT_EQ(RunNio({"batch", "--server", *address_, "--input", *catalog_,
                    "--output", Out("x.jsonl"), "--shard", "4/4"})
                .code,
            1);
}

TEST_F(CliE2ETest, LocalEqualsTheServer) {
  const auto remote =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              Out("remote.jsonl"), "--steps", "60", "--progress", "none"});
  const auto local =
      RunNio({"batch", "--local", "--backend", "cpu", "--model_dir",
              TinyModel(), "--input", *catalog_, "--output", Out("local.jsonl"),
              "--steps", "60", "--progress", "none"});
  EXPECT_EQ(remote.code, 5) << remote.output;
  EXPECT_EQ(local.code, 5) << local.output;
  const auto a = ReadJsonl(Out("remote.jsonl"));
  const auto b = ReadJsonl(Out("local.jsonl"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [id, j] : a) {
    ASSERT_TRUE(b.count(id)) << id;
    EXPECT_EQ(j["status"], b.at(id)["status"]);
    if (j["status"] != "ok") continue;
    EXPECT_NEAR(j["prediction_after"].get<double>(),
                b.at(id)["prediction_after"].get<double>(), 1e-3)
        << id;
    ASSERT_EQ(j["changes"].size(), b.at(id)["changes"].size()) << id;
    for (size_t i = 0; i < j["changes"].size(); ++i) {
      const auto& change = j["changes"][i];
      const auto& other = b.at(id)["changes"][i];
      EXPECT_EQ(change["name"], other["name"]) << id;
      EXPECT_NEAR(
          change["optimized"].get<double>(), other["optimized"].get<double>(),
          1e-3 * std::max(1.0, std::fabs(change["optimized"].get<double>())))
          << id << " " << change["name"];
    }
  }
  // And the single-track path: --local optimize equals the server's.
  const auto lj = RunNio({"optimize", "--local", "--model_dir", TinyModel(),
                          "--preset", "edm", "--format", "json"});
  const auto rj = RunNio({"optimize", "--server", *address_, "--preset", "edm",
                          "--format", "json"});
  ASSERT_EQ(lj.code, 0) << lj.output;
  ASSERT_EQ(rj.code, 0) << rj.output;
  EXPECT_NEAR(
      nlohmann::json::parse(lj.output)[0]["prediction_after"].get<double>(),
      nlohmann::json::parse(rj.output)[0]["prediction_after"].get<double>(),
      1e-3);
}

// ------------------------------------------------------------ issue 19
// The bundled model through --local: it has every column of the data set.

std::string BundledModel() {
  return std::string(NIO_SOURCE_DIR) + "/models/bundled";
}

TEST_F(CliE2ETest, InvalidValuesAndMovesAreRefusedWithFieldAndRange) {
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> fragments;
  };
  const std::vector<Case> cases = {
      {{"--set", "danceability=4"}, {"'danceability'", "4", "[0, 1]"}},
      {{"--set", "tempo=-100"}, {"'tempo'", "-100", "(0, 300]"}},
      {{"--set", "key=12"}, {"'key'", "12", "[-1, 11]"}},
      {{"--mutable", "energy,mode"}, {"'mode'", "0 or 1", "cannot move"}},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"optimize",     "--local", "--model_dir",
                                     BundledModel(), "--genre", "pop",
                                     "--steps",      "5"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const auto r = RunNio(args);
    EXPECT_EQ(r.code, 2) << r.output;
    for (const auto& frag : c.fragments) {
      EXPECT_NE(r.output.find(frag), std::string::npos) << frag << "\n"
                                                        << r.output;
    }
    EXPECT_NE(r.output.find("INVALID_ARGUMENT"), std::string::npos) << r.output;
  }
}

TEST_F(CliE2ETest, BatchCountsInvalidRowsAsBadRowsWithTheirLines) {
  const std::string csv = Out("invalid.csv");
  {
    std::ofstream out(csv);
    out << ",track_id,danceability,energy,key,loudness,mode,tempo,track_genre\n"
        << "0,good-1,0.5,0.5,5,-8,1,120,pop\n"   // line 2
        << "1,unit4,4,0.5,5,-8,1,120,pop\n"      // line 3
        << "2,slow,0.5,0.5,5,-8,1,-100,pop\n"    // line 4
        << "3,key12,0.5,0.5,12,-8,1,120,pop\n"   // line 5
        << "4,good-2,0.6,0.7,2,-6,0,128,edm\n";  // line 6
  }
  for (const char* ext : {"csv", "jsonl"}) {
    const std::string output = Out(std::string("invalid-out.") + ext);
    const auto r = RunNio({"batch", "--local", "--model_dir", BundledModel(),
                           "--input", csv, "--output", output, "--steps", "5",
                           "--progress", "none", "--fill-missing", "mean"});
    EXPECT_EQ(r.code, 5) << r.output;  // done, with bad rows
    for (const char* frag :
         {"line 3: track 'unit4': feature 'danceability': 4 is outside the "
          "valid range [0, 1]",
          "line 4: track 'slow': feature 'tempo': -100 is outside the valid "
          "range (0, 300]",
          "line 5: track 'key12': feature 'key': 12 is outside the valid range "
          "whole numbers in [-1, 11]",
          "3 bad rows skipped"}) {
      EXPECT_NE(r.output.find(frag), std::string::npos) << frag << "\n"
                                                        << r.output;
    }
    EXPECT_EQ(CountLines(output), std::string(ext) == "csv" ? 3u : 2u);
  }
  const auto results = ReadJsonl(Out("invalid-out.jsonl"));
  ASSERT_EQ(results.size(), 2u);
  for (const auto& [id, j] : results) EXPECT_TRUE(j.contains("improved")) << id;
  std::ifstream header_in(Out("invalid-out.csv"));
  std::string header;
  std::getline(header_in, header);
  EXPECT_NE(header.find(",delta,improved,steps_run,"), std::string::npos)
      << header;
  // A --mutable list no track could run with is refused before any row.
  const auto moves =
      RunNio({"batch", "--local", "--model_dir", BundledModel(), "--input", csv,
              "--output", Out("moves.jsonl"), "--mutable", "energy,mode"});
  EXPECT_EQ(moves.code, 2) << moves.output;
  for (const char* frag : {"--mutable", "'mode'", "0 or 1", "cannot move"}) {
    EXPECT_NE(moves.output.find(frag), std::string::npos) << frag << "\n"
                                                          << moves.output;
  }
}

// The issue's example: loudness -40 dB is outside the trust region (box
// -23.2..). In projected mode (the bundled model's default) one step moves
// it by at most lr * scale, never to the box edge; reference mode keeps the
// original's clamp, which does.
TEST_F(CliE2ETest, AnInputOutsideTheBoxIsNotForcedToMove) {
  const auto info = RunNio(
      {"info", "--local", "--model_dir", BundledModel(), "--format", "json"});
  ASSERT_EQ(info.code, 0) << info.output;
  double scale = 0, box_min = 0;
  const auto model = nlohmann::json::parse(info.output);
  for (const auto& f : model["features"]) {
    if (f["name"] == "loudness") {
      scale = f["scale"].get<double>();
      box_min = f["box_min"].get<double>();
    }
  }
  ASSERT_GT(scale, 0) << info.output;
  EXPECT_NEAR(box_min, -23.2, 0.05);
  auto loudness_after = [&](const std::string& mode) {
    const auto r = RunNio({"optimize", "--local", "--model_dir", BundledModel(),
                           "--genre", "pop", "--set", "loudness=-40", "--steps",
                           "1", "--format", "json", "--mode", mode,
                           // One Adam step of lr: the size checked below.
                           "--optimizer", "adam", "--starts", "1"});
    EXPECT_EQ(r.code, 0) << r.output;
    const auto result = nlohmann::json::parse(r.output).at(0);
    for (const auto& c : result["changes"]) {
      if (c["name"] == "loudness") {
        EXPECT_NEAR(c["original"].get<double>(), -40, 1e-4);
        return c["optimized"].get<double>();
      }
    }
    ADD_FAILURE() << "no loudness change\n" << r.output;
    return 0.0;
  };
  const double lr = 0.05;
  EXPECT_LE(std::fabs(loudness_after("projected") + 40), lr * scale * 1.001);
  EXPECT_NEAR(loudness_after("reference"), box_min, 0.01);
}

TEST_F(CliE2ETest, InfoShowsValidRangesEffectiveBoxesAndTheDefaultMode) {
  const auto r = RunNio({"info", "--local", "--model_dir", BundledModel()});
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* s : {"mode projected", "valid", "box", "(0, 300]",
                        "whole numbers in [-1, 11]", "0 or 1", "-23.2..",
                        "trust region", "above 100 reads as 100"}) {
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  }
  const auto tiny = RunNio({"info", "--server", *address_});
  EXPECT_NE(tiny.output.find("mode reference (the original app's semantics"),
            std::string::npos)
      << tiny.output;
}

// Over the real data set's first 2,000 rows, in the bundled model's default
// mode: no result with a negative delta is labelled improved.
TEST_F(CliE2ETest, RealRowsWithANegativeDeltaAreNeverLabelledImproved) {
  const std::string data = NIO_DATA_CSV;
  if (!fs::exists(data))
    GTEST_SKIP() << "no data set at " << data
                 << " (see ../shared/data/README.md)";
  const std::string csv =
      Out("first2000.csv");  // a scratch copy, never in the repo
  {
    std::ifstream in(data);
    std::ofstream out(csv);
    std::string line;
    for (int i = 0; i <= 2000 && std::getline(in, line); ++i)
      out << line << "\n";
  }
  const std::string output = Out("first2000.jsonl");
  const auto r = RunNio({"batch", "--local", "--model_dir", BundledModel(),
                         "--threads", "2", "--input", csv, "--output", output,
                         "--steps", "100", "--progress", "none"},
                        300s);
  EXPECT_TRUE(r.code == 0 || r.code == 5) << r.output;
  const auto results = ReadJsonl(output);
  int ok = 0, negative = 0, not_improved = 0;
  for (const auto& [id, j] : results) {
    if (j["status"] != "ok") continue;
    ++ok;
    const double delta = j["delta"].get<double>();
    negative += delta < 0;
    not_improved += !j["improved"].get<bool>();
    if (delta < 0) EXPECT_FALSE(j["improved"].get<bool>()) << id;
    EXPECT_EQ(j["improved"].get<bool>(), delta > 0) << id;
  }
  EXPECT_GT(ok, 1900) << r.output;
  const size_t summary = r.output.find("Batch summary");
  std::cout << ok << " results: " << negative << " with a negative delta, "
            << not_improved << " not improved\n"
            << (summary == std::string::npos ? r.output
                                             : r.output.substr(summary));
  RecordProperty("not_improved", not_improved);
}

// ------------------------------------------------------------ issue 16:
// one CLI convention, one JSON shape, numbers and messages (items 8-13).

bool Has(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

// Polls `done` until it holds or `timeout` passes: waits on the condition,
// never for a guessed time.
template <class Condition>
bool WaitUntil(Condition done, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

TEST_F(CliE2ETest, EngineFlagsWithoutLocalAreUsageErrorsNamingTheFlag) {
  const std::vector<std::vector<std::string>> cases = {
      {"--model_dir", TinyModel()}, {"--model-dir", TinyModel()},
      {"--threads", "2"},           {"--max_batch", "4"},
      {"--backend", "cpu"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"info", "--server", *address_};
    args.insert(args.end(), c.begin(), c.end());
    const auto r = RunNio(args);
    EXPECT_EQ(r.code, 1) << c[0] << "\n" << r.output;
    EXPECT_TRUE(Has(r.output, c[0].substr(0, 7))) << c[0] << "\n" << r.output;
    EXPECT_TRUE(Has(r.output, "--local")) << c[0] << "\n" << r.output;
  }
  const std::string tracks = Out("one-track.json");
  std::ofstream(tracks) << R"({"tracks": [{"id": "a", "genre": "pop"}]})";
  for (const std::string flag : {"--preset", "--genre", "--set", "--id"}) {
    const std::string value = flag == "--set"      ? "energy=0.5"
                              : flag == "--preset" ? "chill"
                                                   : "pop";
    const auto r = RunNio(
        {"optimize", "--server", *address_, "--input", tracks, flag, value});
    EXPECT_EQ(r.code, 1) << flag << "\n" << r.output;
    EXPECT_TRUE(Has(r.output, flag)) << r.output;
  }
  for (const std::vector<std::string> bad :
       {std::vector<std::string>{"--steps", "0"},
        {"--steps", "100001"},
        {"--lr", "0"},
        {"--lambda", "-1"}}) {
    std::vector<std::string> args = {"optimize", "--server", *address_,
                                     "--preset", "chill"};
    args.insert(args.end(), bad.begin(), bad.end());
    const auto r = RunNio(args);
    EXPECT_EQ(r.code, 1) << bad[0] << " " << bad[1] << "\n" << r.output;
    EXPECT_TRUE(Has(r.output, bad[0])) << r.output;
    EXPECT_FALSE(Has(r.output, "Popularity")) << "ran anyway\n" << r.output;
  }
}

// The codes of client/README.md's table, each provoked.
TEST_F(CliE2ETest, ExitCodesAreTheOnesInTheReadmeTable) {
  std::set<int> documented;
  {
    std::ifstream readme(std::string(NIO_SOURCE_DIR) + "/client/README.md");
    std::string line;
    bool in_table = false;
    std::smatch m;
    while (std::getline(readme, line)) {
      if (line == "## Exit codes") in_table = true;
      if (in_table && std::regex_match(line, m, std::regex(R"(\| (\d+) \|.*)")))
        documented.insert(std::stoi(m[1]));
    }
  }
  EXPECT_EQ(documented, (std::set<int>{0, 1, 2, 3, 4, 5, 130}));
  std::set<int> provoked;
  auto expect = [&](int code, std::vector<std::string> args) {
    const auto r = RunNio(args, 60s);
    EXPECT_EQ(r.code, code) << args[0] << " " << args.back() << "\n"
                            << r.output;
    provoked.insert(code);
  };
  expect(0, {"info", "--server", *address_});
  expect(1, {"optimize", "--server", *address_, "--preset", "chill", "--mode",
             "foo"});
  expect(1, {"batch", "--server", *address_, "--input", *catalog_, "--output",
             Out("codes.jsonl"), "--shard", "3/3"});
  expect(2, {"optimize", "--server", *address_, "--preset", "polka"});
  expect(2, {"optimize", "--server", *address_, "--input",
             Out("no-such-tracks.json")});
  expect(3, {"info", "--server", "127.0.0.1:1"});
  expect(3, {"info", "--local", "--model_dir", Out("no-such-model")});
  const auto version = RunNio({"--version"});
  if (Has(version.output, "cuda")) {
    std::cout << "CUDA compiled in: --local --backend cuda not checked\n";
  } else {
    expect(3, {"optimize", "--local", "--model_dir", TinyModel(), "--backend",
               "cuda", "--preset", "chill"});
  }
  {
    // A server that queues nothing: every call is refused with
    // RESOURCE_EXHAUSTED, a request that failed on the server.
    ChildProcess full({NIO_SERVER_BINARY, "--model_dir", TinyModel(),
                       "--listen", "127.0.0.1:0", "--http_listen",
                       "127.0.0.1:0", "--backend", "cpu", "--max_queue", "0",
                       "--interactive_slots", "0"});
    ASSERT_TRUE(full.WaitForOutput("listening on", 30s)) << full.output();
    std::smatch m;
    const std::string log = full.output();
    ASSERT_TRUE(
        std::regex_search(log, m, std::regex("listening on ([0-9.]+:[0-9]+)")));
    expect(4,
           {"optimize", "--server", m[1], "--preset", "chill", "--steps", "5"});
  }
  const std::string csv = Out("codes.csv");
  std::ofstream(csv) << "track_id,danceability,track_genre\n"
                     << "a,0.5,pop\nb,lots,pop\n";
  expect(5, {"batch", "--server", *address_, "--input", csv, "--output",
             Out("codes-5.jsonl"), "--steps", "5", "--progress", "none",
             "--fill-missing", "mean"});
  provoked.insert(
      130);  // CtrlCDuringBatchPrintsTheSavedRowsAndTheResumeCommand
  EXPECT_EQ(provoked, documented);
}

TEST_F(CliE2ETest, FormatNamesAFormatOutputAFileAndFlagsTakeBothSpellings) {
  const auto json = RunNio({"info", "--server", *address_, "--format", "json"});
  ASSERT_EQ(json.code, 0) << json.output;
  EXPECT_NO_THROW(nlohmann::json::parse(json.output)) << json.output;
  // The old spelling still works for one release, with a note on stderr.
  const auto old = RunNio({"info", "--server", *address_, "--output", "json"});
  EXPECT_EQ(old.code, 0) << old.output;
  EXPECT_TRUE(Has(old.output, "--output json is deprecated: use --format json"))
      << old.output;
  const auto file = RunNio({"optimize", "--server", *address_, "--preset",
                            "chill", "--output", Out("report.txt")});
  EXPECT_EQ(file.code, 1) << file.output;
  EXPECT_TRUE(Has(file.output, "--format")) << file.output;
  // Dashed and underscored spellings of multi-word flags.
  EXPECT_EQ(RunNio({"info", "--local", "--model-dir", TinyModel(),
                    "--max-batch", "8"})
                .code,
            0);
  EXPECT_EQ(RunNio({"info", "--local", "--model_dir", TinyModel(),
                    "--max_batch", "8"})
                .code,
            0);
  // Defaults in every --help.
  const auto batch_help = RunNio({"batch", "--help"});
  EXPECT_EQ(batch_help.code, 0);
  for (const char* s : {"4096", "auto", "error"}) {
    EXPECT_TRUE(Has(batch_help.output, s)) << s << "\n" << batch_help.output;
  }
  const auto bench_help = RunNio({"bench", "--help"});
  for (const char* s : {"--concurrency INT:POSITIVE=", "--duration",
                        "--format TEXT:{human,json}=human"}) {
    EXPECT_TRUE(Has(bench_help.output, s)) << s << "\n" << bench_help.output;
  }
  // --version of both binaries: version, the real build type, backends.
  const auto version = RunNio({"--version"});
  EXPECT_EQ(version.code, 0) << version.output;
  EXPECT_TRUE(std::regex_search(
      version.output,
      std::regex(
          R"(nio \d+\.\d+\.\d+ \((Debug|Release|RelWithDebInfo|MinSizeRel) build; backends: cpu)")))
      << version.output;
  ChildProcess server_version({NIO_SERVER_BINARY, "--version"});
  EXPECT_EQ(server_version.Wait(30s), 0);
  EXPECT_TRUE(std::regex_search(
      server_version.output(),
      std::regex(R"(nio-server \d+\.\d+\.\d+ \(\w+ build; backends: cpu)")))
      << server_version.output();
  EXPECT_FALSE(Has(server_version.output(), "NDEBUG"));
  ChildProcess server_help({NIO_SERVER_BINARY, "--help"});
  EXPECT_EQ(server_help.Wait(30s), 0);
  EXPECT_TRUE(Has(server_help.output(), "--max_batch")) << server_help.output();
  EXPECT_FALSE(Has(server_help.output(), NIO_SOURCE_DIR))
      << server_help.output();
  EXPECT_FALSE(Has(server_help.output(), "/service/")) << server_help.output();
  // nio-server takes the dashed spelling too: this one fails on the model,
  // not on the flag.
  ChildProcess dashed({NIO_SERVER_BINARY, "--model-dir", Out("no-such-model"),
                       "--max-batch", "8"});
  EXPECT_EQ(dashed.Wait(30s), 2) << dashed.output();
  EXPECT_TRUE(Has(dashed.output(), "no-such-model")) << dashed.output();
}

TEST_F(CliE2ETest, AMalformedAddressIsRefusedAtOnce) {
  for (const std::string address :
       {"localhost:5005x", ":x", ":50051", "localhost", "localhost:70000"}) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = RunNio({"info", "--server", address}, 5s);
    EXPECT_EQ(r.code, 1) << address << "\n" << r.output;
    EXPECT_TRUE(Has(r.output, "bad address '" + address + "'")) << r.output;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  }
}

TEST_F(CliE2ETest, OptimizeJsonIsAListOfBatchRecords) {
  const std::string csv = Out("one.csv");
  std::ofstream(csv) << "track_id,danceability,energy,track_genre\n"
                     << "solo,0.5,0.5,pop\n";
  const auto batch = RunNio({"batch", "--server", *address_, "--input", csv,
                             "--output", Out("one.jsonl"), "--steps", "20",
                             "--progress", "none", "--fill-missing", "mean"});
  ASSERT_EQ(batch.code, 0) << batch.output;
  std::ifstream in(Out("one.jsonl"));
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const auto record = nlohmann::ordered_json::parse(line);
  const auto r = RunNio({"optimize", "--server", *address_, "--genre", "pop",
                         "--id", "solo", "--set", "danceability=0.5", "--set",
                         "energy=0.5", "--steps", "20", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.output;
  const auto list = nlohmann::ordered_json::parse(r.output);
  ASSERT_TRUE(list.is_array()) << r.output;
  ASSERT_EQ(list.size(), 1u);
  std::vector<std::string> batch_keys, optimize_keys;
  for (const auto& [k, v] : record.items()) batch_keys.push_back(k);
  for (const auto& [k, v] : list[0].items()) optimize_keys.push_back(k);
  EXPECT_EQ(optimize_keys, batch_keys);
  ASSERT_TRUE(record["changes"].is_array());
  ASSERT_FALSE(record["changes"].empty());
  EXPECT_EQ(list[0]["changes"][0].size(), record["changes"][0].size());
  EXPECT_EQ(list[0]["changes"], record["changes"]);  // same track, same answer
  // A failed track is a record of the same shape, in the list.
  const std::string tracks = Out("two-tracks.json");
  std::ofstream(tracks)
      << R"({"tracks": [{"id": "a", "genre": "pop"}, {"id": "b", "genre": "polka"}]})";
  const auto two = RunNio({"optimize", "--server", *address_, "--input", tracks,
                           "--steps", "5", "--format", "json"});
  EXPECT_EQ(two.code, 5) << two.output;
  // stderr names the failed track first; the list starts a line.
  const auto both =
      nlohmann::ordered_json::parse(two.output.substr(two.output.find("[\n")));
  ASSERT_EQ(both.size(), 2u);
  EXPECT_EQ(both[1]["status"], "error");
  EXPECT_EQ(both[1].size(), both[0].size());
  // info: the proto's snake_case names, zero values present.
  const auto info = RunNio(
      {"info", "--local", "--model_dir", BundledModel(), "--format", "json"});
  ASSERT_EQ(info.code, 0) << info.output;
  EXPECT_FALSE(
      std::regex_search(info.output, std::regex(R"("[a-z]+[A-Z]\w*":)")))
      << "camelCase key\n"
      << info.output;
  bool saw_explicit = false;
  const auto model = nlohmann::json::parse(info.output);
  for (const auto& f : model["features"]) {
    if (f["name"] != "explicit") continue;
    saw_explicit = true;
    ASSERT_TRUE(f.contains("range_min")) << f;
    EXPECT_EQ(f["range_min"], 0);
  }
  EXPECT_TRUE(saw_explicit);
}

// The options of better suggestions as flags: each reaches the engine and
// the quality block comes back in the JSON record, the CSV columns and the
// human report; the batch manifest keeps them, so a resume with other ones
// is refused.
TEST_F(CliE2ETest, SearchOptionFlagsReachTheEngineAndQualityComesBack) {
  const std::vector<std::string> track = {
      "optimize",  "--server",   *address_, "--genre",   "pop",
      "--set",     "energy=0.5", "--set",   "tempo=110", "--mode",
      "projected", "--steps",    "60"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = track;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const auto j = RunNio(with({"--starts", "4", "--increase", "energy",
                              "--max-changed", "2", "--format", "json"}));
  ASSERT_EQ(j.code, 0) << j.output;
  const auto record = nlohmann::json::parse(j.output).at(0);
  const auto& quality = record.at("quality");
  EXPECT_EQ(quality.at("stop_reason"), "steps");
  EXPECT_LT(quality.at("winning_start").get<int>(), 4);
  EXPECT_LE(quality.at("features_changed").get<int>(), 2);
  EXPECT_TRUE(quality.at("target_reached").is_null());
  for (const auto& c : record.at("changes")) {
    if (c.at("name") == "energy")
      EXPECT_GE(c.at("optimized").get<double>(), 0.5);
  }
  const auto target =
      RunNio(with({"--target", "-1000000", "--format", "json"}));
  ASSERT_EQ(target.code, 0) << target.output;
  const auto reached = nlohmann::json::parse(target.output).at(0);
  EXPECT_EQ(reached.at("quality").at("stop_reason"), "target");
  EXPECT_EQ(reached.at("quality").at("target_reached"), true);
  EXPECT_EQ(reached.at("steps_run"), 1);
  const auto human =
      RunNio(with({"--tolerance", "0.5", "--tolerance-window", "2"}));
  ASSERT_EQ(human.code, 0) << human.output;
  EXPECT_NE(human.output.find("(stopped: converged)"), std::string::npos)
      << human.output;
  EXPECT_NE(human.output.find("Features changed"), std::string::npos);
  // Out of range: a usage error naming the flag.
  const auto bad = RunNio(with({"--starts", "65"}));
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.output.find("--starts"), std::string::npos) << bad.output;
  const auto both =
      RunNio(with({"--increase", "energy", "--decrease", "energy"}));
  EXPECT_EQ(both.code, 1) << both.output;
  const auto nan_target = RunNio(with({"--target", "nan"}));
  EXPECT_NE(nan_target.code, 0);
  EXPECT_NE(nan_target.output.find("target"), std::string::npos)
      << nan_target.output;
  const auto lone_window = RunNio(with({"--tolerance-window", "5"}));
  EXPECT_EQ(lone_window.code, 1);
  EXPECT_NE(lone_window.output.find("--tolerance-window needs --tolerance"),
            std::string::npos)
      << lone_window.output;
  const auto delta =
      RunNio(with({"--max-delta", "energy=0.05", "--format", "json"}));
  ASSERT_EQ(delta.code, 0) << delta.output;
  // Named: a range-for over a member of a temporary reads freed memory.
  const nlohmann::json delta_report = nlohmann::json::parse(delta.output);
  for (const auto& c : delta_report.at(0).at("changes")) {
    if (c.at("name") == "energy") {
      EXPECT_LE(std::fabs(c.at("optimized").get<double>() - 0.5), 0.05 + 1e-9);
    }
  }

  // A batch: quality columns in the CSV, the options in the manifest.
  const std::string csv = Out("search.csv");
  std::ofstream(csv) << "track_id,danceability,energy,track_genre\n"
                     << "s1,0.5,0.5,pop\ns2,0.3,0.7,edm\n";
  const std::string out = Out("search-out.csv");
  const auto batch =
      RunNio({"batch", "--server", *address_, "--input", csv, "--output", out,
              "--steps", "20", "--starts", "2", "--progress", "none",
              "--fill-missing", "mean", "--mode", "projected"});
  ASSERT_EQ(batch.code, 0) << batch.output;
  std::ifstream in(out);
  std::string header;
  std::getline(in, header);
  EXPECT_NE(header.find(",steps_run,stop_reason,winning_start,objective,"
                        "distance_l2,distance_l1,features_changed,"
                        "target_reached,"),
            std::string::npos)
      << header;
  // Options no row could run with are refused before any row is read.
  for (const auto& [flag, value, message] :
       {std::tuple{"--target", "50", "--target needs projected mode"},
        std::tuple{"--increase", "key", "does not move in this job"}}) {
    const auto refused =
        RunNio({"batch", "--server", *address_, "--input", csv, "--output",
                Out("never.csv"), flag, value, "--progress", "none",
                "--fill-missing", "mean"});
    EXPECT_NE(refused.code, 0) << flag;
    EXPECT_NE(refused.output.find(message), std::string::npos)
        << refused.output;
  }
  EXPECT_FALSE(fs::exists(Out("never.csv")));
  const auto other =
      RunNio({"batch", "--server", *address_, "--input", csv, "--output", out,
              "--steps", "20", "--starts", "3", "--progress", "none",
              "--fill-missing", "mean", "--mode", "projected", "--resume"});
  EXPECT_NE(other.code, 0);
  EXPECT_NE(other.output.find("--starts differs"), std::string::npos)
      << other.output;
}

TEST_F(CliE2ETest, NumbersAreShownAtThePrecisionOfTheData) {
  const std::vector<std::string> track = {"--local",
                                          "--model_dir",
                                          BundledModel(),
                                          "--genre",
                                          "pop",
                                          "--set",
                                          "danceability=0.7",
                                          "--set",
                                          "instrumentalness=0",
                                          "--set",
                                          "speechiness=0",
                                          "--steps",
                                          "5"};
  auto with = [&](std::vector<std::string> head,
                  std::vector<std::string> tail) {
    head.insert(head.end(), track.begin(), track.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  const auto json = RunNio(with({"optimize"}, {"--format", "json"}));
  ASSERT_EQ(json.code, 0) << json.output;
  EXPECT_FALSE(Has(json.output, "0.6999")) << json.output;
  EXPECT_FALSE(std::regex_search(json.output, std::regex(R"(\de-(09|10|11))")))
      << json.output;
  std::map<std::string, nlohmann::json> changes;
  const auto parsed = nlohmann::json::parse(json.output);
  for (const auto& c : parsed[0]["changes"]) changes[c["name"]] = c;
  EXPECT_EQ(changes["danceability"]["original"].get<double>(), 0.7);
  EXPECT_EQ(changes["instrumentalness"]["original"].get<double>(), 0.0);
  EXPECT_EQ(changes["speechiness"]["original"].get<double>(), 0.0);
  // The CSV: the same shortest floats.
  const std::string csv = Out("precision.csv");
  std::ofstream(csv) << "track_id,danceability,instrumentalness,speechiness,"
                        "track_genre\nq,0.7,0,0,pop\n";
  const auto batch =
      RunNio({"batch", "--local", "--model_dir", BundledModel(), "--input", csv,
              "--output", Out("precision-out.csv"), "--steps", "5",
              "--progress", "none", "--fill-missing", "mean"});
  ASSERT_EQ(batch.code, 0) << batch.output;
  std::ifstream result(Out("precision-out.csv"));
  std::string header, row;
  std::getline(result, header);
  std::getline(result, row);
  EXPECT_TRUE(Has(row, ",0.7,")) << header << "\n" << row;
  EXPECT_FALSE(Has(row, "e-10")) << row;
  // People: a heading with id and genre, no "-0.0", whole-number ranges.
  const auto human = RunNio(with({"optimize"}, {"--id", "q", "--show-best"}));
  ASSERT_EQ(human.code, 0) << human.output;
  EXPECT_TRUE(Has(human.output, "Track 'q', genre pop")) << human.output;
  EXPECT_FALSE(std::regex_search(human.output, std::regex(R"(-0\.0+\b)")))
      << human.output;
  const auto info = RunNio({"info", "--local", "--model_dir", BundledModel()});
  EXPECT_TRUE(Has(info.output, " -1..11 ")) << info.output;
  EXPECT_FALSE(Has(info.output, "-1.000")) << info.output;
}

TEST_F(CliE2ETest, ProgressAndRatesCountOnlyTracksThatRan) {
  // Every track fails at once (unknown genre): no rate out of nothing.
  const std::string csv = Out("all-fail.csv");
  {
    std::ofstream out(csv);
    out << "track_id,danceability,track_genre\n";
    for (int i = 0; i < 50; ++i) out << "f" << i << ",0.5,polka\n";
  }
  const auto failed = RunNio({"batch", "--server", *address_, "--input", csv,
                              "--output", Out("all-fail.jsonl"), "--progress",
                              "plain", "--fill-missing", "mean"});
  EXPECT_EQ(failed.code, 5) << failed.output;
  EXPECT_TRUE(Has(failed.output, ", 0.0 tracks/s")) << failed.output;
  EXPECT_FALSE(Has(failed.output, "ETA ?")) << failed.output;
  // A resume with nothing left prints no "0/N tracks" progress line.
  const std::string good = Out("done.csv");
  std::ofstream(good) << "track_id,danceability,track_genre\nd1,0.5,pop\n";
  const std::vector<std::string> job = {
      "batch",    "--server",        *address_, "--input", good,
      "--output", Out("done.jsonl"), "--steps", "5",       "--progress",
      "plain",    "--fill-missing",  "mean"};
  ASSERT_EQ(RunNio(job).code, 0);
  std::vector<std::string> resume = job;
  resume.push_back("--resume");
  const auto noop = RunNio(resume);
  EXPECT_EQ(noop.code, 0) << noop.output;
  EXPECT_FALSE(Has(noop.output, "progress:")) << noop.output;
  EXPECT_TRUE(Has(noop.output, "1 already done")) << noop.output;
}

TEST_F(CliE2ETest, ErrorsSayWhatAndWhereOnce) {
  // A track that fails is named once, with a hint for the genre's case.
  const std::string tracks = Out("case.json");
  std::ofstream(tracks)
      << R"({"tracks": [{"id": "ok", "genre": "pop"}, {"id": "cap", "genre": "Pop"}]})";
  const auto r = RunNio({"optimize", "--server", *address_, "--input", tracks,
                         "--steps", "5", "--format", "json"});
  EXPECT_EQ(r.code, 5) << r.output;
  EXPECT_TRUE(Has(r.output, "did you mean 'pop'?")) << r.output;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(r.output, m, std::regex("nio: [^\n]*'cap'[^\n]*")))
      << r.output;
  const std::string line = m[0];
  EXPECT_EQ(line.find("'cap'"), line.rfind("'cap'")) << line;
  // A folder that does not exist is not found, not a permission problem.
  const auto out =
      RunNio({"batch", "--server", *address_, "--input", *catalog_, "--output",
              Out("no-such-dir") + "/x.jsonl", "--progress", "none"});
  EXPECT_EQ(out.code, 2) << out.output;
  EXPECT_FALSE(Has(out.output, "PERMISSION_DENIED")) << out.output;
  EXPECT_TRUE(Has(out.output, "NOT_FOUND")) << out.output;
  EXPECT_TRUE(Has(out.output, "no-such-dir")) << out.output;
  const auto model =
      RunNio({"info", "--local", "--model_dir", Out("no-such-model")});
  EXPECT_EQ(model.code, 3) << model.output;
  EXPECT_TRUE(Has(model.output, "not found")) << model.output;
  // The original app's pickles: name the converter.
  const fs::path pickles = *dir_ / "pickles";
  fs::create_directories(pickles);
  std::ofstream(pickles / "nio_model_hybrid.pth") << "not a model.json";
  std::ofstream(pickles / "nio_scaler.pkl") << "";
  const auto pth = RunNio({"info", "--local", "--model_dir", pickles.string()});
  EXPECT_EQ(pth.code, 3) << pth.output;
  EXPECT_TRUE(Has(pth.output, "models/tools/export_pytorch.py")) << pth.output;
}

TEST_F(CliE2ETest, CtrlCDuringBatchPrintsTheSavedRowsAndTheResumeCommand) {
  const std::string out = Out("interrupted.jsonl");
  ChildProcess job({NIO_CLI_BINARY, "batch", "--server", *address_, "--input",
                    *catalog_, "--output", out, "--steps", "20000", "--window",
                    "16", "--progress", "none"});
  ASSERT_TRUE(WaitUntil([&] { return CountLines(out) >= 2; }, 60s))
      << job.output();
  job.Signal(SIGINT);
  EXPECT_EQ(job.Wait(30s), 130) << job.output();
  const std::string text = job.output();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      text, m, std::regex(R"((\d+) results are saved in ([^;]+);)")))
      << text;
  EXPECT_GE(std::stoul(m[1]), 2u);
  EXPECT_EQ(m[2], out);
  EXPECT_TRUE(Has(text, "--resume")) << text;
}

}  // namespace
}  // namespace nio
