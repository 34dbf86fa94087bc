// Continuous batching: tracks admitted mid-run and retired with compaction
// get exactly what they get alone.
#include "kernels/slot_batch.h"

#include <map>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/backend.h"
#include "kernels/step_bucket.h"
#include "tests/fake_backend.h"
#include "tests/test_util.h"

namespace nio::kernels {
namespace {

using nio::testing::AllClose;
using nio::testing::RandomFloats;

struct Track {
  std::vector<float> x0;
  std::vector<uint8_t> mask;
  std::vector<float> lo, hi;
  float lr, lambda;
  int steps;
};

class SlotBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mlp_ = nio::testing::RandomMlp({12, 40, 20, 1}, 7);
    movable_ = {0, 3, 5, 6, 10};
    for (int i = 0; i < 23; ++i) {
      Track t;
      t.x0 = RandomFloats(12, 100 + i, -2, 2);
      t.mask.assign(movable_.size(), 1);
      t.mask[i % movable_.size()] = (i % 3 == 0) ? 0 : 1;
      t.lo.assign(movable_.size(), i % 2 ? -3.0f : -0.5f);
      t.hi.assign(movable_.size(), i % 2 ? 3.0f : 0.7f);
      t.lr = 0.02f + 0.01f * (i % 4);
      t.lambda = 0.1f * (i % 3);
      t.steps = 5 + (i * 7) % 40;
      tracks_.push_back(t);
    }
  }

  std::unique_ptr<Backend> Make(int max_rows) {
    BackendOptions o;
    o.max_rows = max_rows;
    o.threads = 2;
    auto cpu = CreateCpuBackend(mlp_, movable_, o).value();
    if (!bucketed_) return cpu;
    return std::make_unique<Bucketed>(std::move(cpu));
  }

  // The CPU backend asking for bucketed steps, as the CUDA backend does.
  class Bucketed final : public Backend {
   public:
    explicit Bucketed(std::unique_ptr<Backend> b) : b_(std::move(b)) {}
    std::string Describe() const override { return b_->Describe(); }
    int MaxRows() const override { return b_->MaxRows(); }
    int InputSize() const override { return b_->InputSize(); }
    const std::vector<int>& MovableColumns() const override {
      return b_->MovableColumns();
    }
    absl::Status LoadRows(int first, const NioRows& rows) override {
      return b_->LoadRows(first, rows);
    }
    absl::Status MoveRows(const std::vector<RowMove>& moves) override {
      return b_->MoveRows(moves);
    }
    absl::Status Step(int first, int rows) override {
      stepped_rows_ += rows;
      return b_->Step(first, rows);
    }
    absl::Status GatherRows(const std::vector<int>& rows,
                            const RowReadout& out) override {
      return b_->GatherRows(rows, out);
    }
    absl::Status Predict(const float* x, int rows, float* out) override {
      return b_->Predict(x, rows, out);
    }
    int StepRowsFor(int rows, int limit) const override {
      return StepBucket(rows, limit);
    }
    int64_t stepped_rows_ = 0;

   private:
    std::unique_ptr<Backend> b_;
  };
  bool bucketed_ = false;

  // Runs tracks through a batch of max_rows slots, admitting up to
  // admit_per_step tracks at each step boundary as slots free.
  std::map<int64_t, RetiredSlot> Run(int max_rows, int admit_per_step = 1) {
    auto backend = Make(max_rows);
    SlotBatch batch(backend.get());
    std::map<int64_t, RetiredSlot> done;
    size_t next = 0;
    while (next < tracks_.size() || batch.Active() > 0) {
      // One at a time by default, so admissions land at many step boundaries.
      for (int a = 0;
           a < admit_per_step && next < tracks_.size() && batch.Free() > 0;
           ++a) {
        const Track& t = tracks_[next];
        NioRows rows{1,           t.x0.data(), t.mask.data(), t.lo.data(),
                     t.hi.data(), &t.lr,       &t.lambda};
        EXPECT_TRUE(
            batch.Admit(rows, {static_cast<int64_t>(next)}, {t.steps}).ok());
        ++next;
      }
      EXPECT_TRUE(batch.Step().ok());
      std::vector<RetiredSlot> retired;
      EXPECT_TRUE(batch.Retire(nullptr, &retired).ok());
      for (auto& r : retired) done[r.info.ticket] = r;
    }
    return done;
  }

  MlpWeights mlp_;
  std::vector<int> movable_;
  std::vector<Track> tracks_;
};

TEST_F(SlotBatchTest, BatchedEqualsAlone) {
  const auto alone = Run(1);
  const auto batched = Run(6);
  ASSERT_EQ(alone.size(), tracks_.size());
  ASSERT_EQ(batched.size(), tracks_.size());
  for (size_t i = 0; i < tracks_.size(); ++i) {
    EXPECT_EQ(batched.at(i).info.steps_done, tracks_[i].steps);
    EXPECT_EQ(alone.at(i).info.steps_done, tracks_[i].steps);
    EXPECT_TRUE(AllClose(batched.at(i).p, alone.at(i).p, 1e-5, 1e-5))
        << "track " << i;
    // Bounds hold and masked columns never move.
    for (size_t c = 0; c < movable_.size(); ++c) {
      const float p = batched.at(i).p[c];
      if (tracks_[i].mask[c]) {
        EXPECT_GE(p, tracks_[i].lo[c]);
        EXPECT_LE(p, tracks_[i].hi[c]);
      } else {
        EXPECT_EQ(p, tracks_[i].x0[movable_[c]]);
      }
    }
  }
}

TEST_F(SlotBatchTest, ManyTracksLeavingTheSameStepFromScatteredRows) {
  // Four step counts over 23 tracks admitted together: at each of four steps
  // about six rows spread over the block leave at once, and the survivors
  // from the end of the block fill their holes in one set of moves.
  for (size_t i = 0; i < tracks_.size(); ++i)
    tracks_[i].steps = 6 + 5 * static_cast<int>(i % 4);
  const auto alone = Run(1);
  const auto together = Run(23, 23);
  const auto refilled = Run(10, 10);
  ASSERT_EQ(together.size(), tracks_.size());
  ASSERT_EQ(refilled.size(), tracks_.size());
  for (size_t i = 0; i < tracks_.size(); ++i) {
    EXPECT_EQ(together.at(i).info.steps_done, tracks_[i].steps);
    EXPECT_TRUE(AllClose(together.at(i).p, alone.at(i).p, 1e-5, 1e-5))
        << "track " << i;
    EXPECT_TRUE(AllClose(refilled.at(i).p, alone.at(i).p, 1e-5, 1e-5))
        << "track " << i;
    EXPECT_NEAR(together.at(i).info.prediction, alone.at(i).info.prediction,
                1e-5)
        << i;
  }
}

// Bucketed steps run free rows beside the active ones: no active row's
// result changes by a bit.
TEST_F(SlotBatchTest, BucketedStepsGiveEveryTrackTheSameBits) {
  const auto exact = Run(23, 3);
  bucketed_ = true;
  const auto bucketed = Run(23, 3);
  ASSERT_EQ(bucketed.size(), tracks_.size());
  for (size_t i = 0; i < tracks_.size(); ++i) {
    EXPECT_EQ(bucketed.at(i).info.steps_done, tracks_[i].steps);
    EXPECT_EQ(bucketed.at(i).p, exact.at(i).p) << "track " << i;
    EXPECT_EQ(bucketed.at(i).info.prediction, exact.at(i).info.prediction) << i;
  }
}

TEST(StepBucketTest, FewBucketsAtMostAQuarterMoreRowsNeverPastTheLimit) {
  std::vector<int> seen;
  for (int rows = 1; rows <= 4096; ++rows) {
    const int b = StepBucket(rows, 4096);
    ASSERT_GE(b, rows);
    ASSERT_LE(b, rows <= 4 ? rows : rows + rows / 4 + 1) << rows;
    if (seen.empty() || seen.back() != b) seen.push_back(b);
    if (rows <= 100) {
      ASSERT_LE(StepBucket(rows, 100), 100) << rows;
      ASSERT_GE(StepBucket(rows, 100), rows) << rows;
    }
  }
  EXPECT_LE(seen.size(), 4u + 4u * 12u) << "buckets for 1..4096 rows";
  EXPECT_EQ(StepBucket(90, 100), 96);
  EXPECT_EQ(StepBucket(99, 100), 100);
}

// Retire is all or nothing: when the compaction fails after the leaving rows
// were read, nothing is handed back and every slot is still there.
TEST(SlotBatchRetireTest, AFailedCompactionRetiresNothing) {
  testing::FakeClock clock;
  testing::FakeBackend backend(4, 3, {0}, &clock, std::chrono::nanoseconds(1));
  SlotBatch batch(&backend);
  const std::vector<float> x0(4 * 3, 0.0f), lo(4, -1.0f), hi(4, 1.0f),
      lr(4, 0.1f), lambda(4, 0.0f);
  const std::vector<uint8_t> mask(4, 1);
  const NioRows rows{4,         x0.data(), mask.data(),  lo.data(),
                     hi.data(), lr.data(), lambda.data()};
  ASSERT_TRUE(batch.Admit(rows, {1, 2, 3, 4}, {1, 5, 5, 5}).ok());
  ASSERT_TRUE(batch.Step().ok());
  backend.FailNextMove();
  std::vector<RetiredSlot> retired;
  EXPECT_FALSE(batch.Retire(nullptr, &retired).ok());
  EXPECT_TRUE(retired.empty());
  EXPECT_EQ(batch.Active(), 4);
  // The next try succeeds: ticket 1 leaves once.
  ASSERT_TRUE(batch.Retire(nullptr, &retired).ok());
  ASSERT_EQ(retired.size(), 1u);
  EXPECT_EQ(retired[0].info.ticket, 1);
  EXPECT_EQ(batch.Active(), 3);
}

TEST_F(SlotBatchTest, RetireOnRequestFreesTheSlot) {
  auto backend = Make(4);
  SlotBatch batch(backend.get());
  std::vector<float> x0, lo, hi, lr, lambda;
  std::vector<uint8_t> mask;
  for (int i = 0; i < 4; ++i) {
    const Track& t = tracks_[i];
    x0.insert(x0.end(), t.x0.begin(), t.x0.end());
    mask.insert(mask.end(), t.mask.begin(), t.mask.end());
    lo.insert(lo.end(), t.lo.begin(), t.lo.end());
    hi.insert(hi.end(), t.hi.begin(), t.hi.end());
    lr.push_back(t.lr);
    lambda.push_back(t.lambda);
  }
  NioRows rows{4,         x0.data(), mask.data(),  lo.data(),
               hi.data(), lr.data(), lambda.data()};
  ASSERT_TRUE(batch.Admit(rows, {10, 11, 12, 13}, {100, 100, 100, 100}).ok());
  EXPECT_EQ(batch.Free(), 0);
  EXPECT_EQ(batch.Admit(rows, {1, 2, 3, 4}, {1, 1, 1, 1}).code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(batch.Step().ok());
  std::vector<RetiredSlot> retired;
  ASSERT_TRUE(batch
                  .Retire(
                      [](const SlotInfo& s) {
                        return s.ticket == 11 || s.ticket == 13;
                      },
                      &retired)
                  .ok());
  ASSERT_EQ(retired.size(), 2u);
  EXPECT_EQ(retired[0].info.ticket, 11);
  EXPECT_EQ(retired[1].info.ticket, 13);
  EXPECT_EQ(retired[0].info.steps_done, 1);
  EXPECT_EQ(batch.Active(), 2);
  EXPECT_EQ(batch.Free(), 2);
}

}  // namespace
}  // namespace nio::kernels
