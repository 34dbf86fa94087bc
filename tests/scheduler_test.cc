// The scheduler on a fake backend and a fake clock: admission order, the
// interactive block ahead of the batch block, the batch block's minimum
// share, fair shares among batch callers, retire, cancel, deadline, backend
// failures and shutdown; no gRPC, no sleeps. Also LaneArbiter and FairQueue
// alone. Runs under ThreadSanitizer in CI (deploy/test.sh).
#include "service/scheduler.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "models/model.h"
#include "models/track_json.h"
#include "tests/fake_backend.h"
#include "tests/test_util.h"

namespace nio::service {
namespace {

using nio::testing::FakeBackend;
using nio::testing::FakeClock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// Every outcome with the fake time it arrived, in arrival order.
class Outcomes {
 public:
  struct Entry {
    std::string id;
    std::string caller;
    absl::Status status;
    int steps_run = 0;
    models::StopReason stop_reason = models::StopReason::kSteps;
    Clock::time_point at;
  };

  explicit Outcomes(const FakeClock* clock) : clock_(clock) {}

  std::function<void(TrackOutcome)> Callback(std::string id,
                                             std::string caller = "") {
    return [this, id, caller](TrackOutcome o) {
      std::lock_guard<std::mutex> lock(mu_);
      entries_.push_back({id, caller, o.status, o.result.steps_run,
                          o.result.quality.stop_reason, clock_->Now()});
      cv_.notify_all();
    };
  }
  // Blocks until n outcomes have arrived; returns them.
  std::vector<Entry> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return entries_.size() >= n; });
    return entries_;
  }
  Entry Of(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Entry& e : entries_) {
      if (e.id == id) return e;
    }
    ADD_FAILURE() << "no outcome for " << id;
    return {};
  }

 private:
  const FakeClock* clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Entry> entries_;
};

// Options with a batch block of max_batch rows and an interactive block of
// interactive_slots rows.
SchedulerOptions Blocks(int max_batch, int interactive_slots) {
  SchedulerOptions o;
  o.max_batch = max_batch;
  o.interactive_slots = interactive_slots;
  return o;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ =
        models::LoadModel(nio::testing::TestDataDir() + "/tiny_model").value();
    tracks_ = models::ParseTracksJson(
                  nio::testing::ReadFile(nio::testing::TestDataDir() +
                                         "/tiny_tracks.json"),
                  "tiny")
                  .value();
  }
  void TearDown() override {
    if (scheduler_) scheduler_->Stop(clock_.Now());
  }

  // A scheduler over a FakeBackend whose steps cost per_row of fake time.
  void Start(SchedulerOptions o, microseconds per_row = microseconds(100)) {
    o.now = [this] { return clock_.Now(); };
    auto backend = std::make_unique<FakeBackend>(
        o.max_batch + o.interactive_slots,
        static_cast<int>(model_.spec.features.size()),
        models::MovableColumns(model_.spec), &clock_, per_row);
    backend_ = backend.get();
    auto s =
        Scheduler::CreateWithBackend(model_, o, std::move(backend), "fake");
    ASSERT_TRUE(s.ok()) << s.status();
    scheduler_ = std::move(s).value();
  }

  Job MakeTestJob(const std::string& id, int steps, JobClass job_class,
                  const std::string& caller = "",
                  std::shared_ptr<CallControl> control = nullptr) {
    models::NioOptions options;
    options.steps = steps;
    return MakeOptionsJob(id, options, job_class, caller, std::move(control));
  }

  Job MakeOptionsJob(const std::string& id, const models::NioOptions& options,
                     JobClass job_class, const std::string& caller = "",
                     std::shared_ptr<CallControl> control = nullptr) {
    models::RawTrack track = tracks_[0].track;
    track.id = id;
    JobTraits traits;
    traits.job_class = job_class;
    traits.caller = caller;
    traits.control = std::move(control);
    return MakeJob(
        models::BuildNioProblem(scheduler_->featurizer(), track, options)
            .value(),
        traits, outcomes_.Callback(id, caller));
  }

  std::vector<Job> Jobs(const std::string& prefix, int n, int steps,
                        JobClass job_class, const std::string& caller = "") {
    std::vector<Job> jobs;
    for (int i = 0; i < n; ++i) {
      jobs.push_back(
          MakeTestJob(prefix + std::to_string(i), steps, job_class, caller));
    }
    return jobs;
  }

  // Waits (on the scheduler's own stats, no sleeping) until pred holds.
  void WaitUntil(const std::function<bool(const SchedulerStats&)>& pred) {
    while (!pred(scheduler_->Stats())) std::this_thread::yield();
  }

  models::Model model_;
  std::vector<models::TrackRequest> tracks_;
  FakeClock clock_;
  Outcomes outcomes_{&clock_};
  FakeBackend* backend_ = nullptr;
  std::unique_ptr<Scheduler> scheduler_;
};

TEST_F(SchedulerTest, EveryTrackRunsItsStepsAndIsAnsweredOnce) {
  SchedulerOptions o = Blocks(8, 4);
  Start(o);
  ASSERT_TRUE(scheduler_->Submit(Jobs("b", 20, 7, JobClass::kBatch)).ok());
  ASSERT_TRUE(scheduler_->Submit(Jobs("i", 9, 5, JobClass::kInteractive)).ok());
  const auto all = outcomes_.WaitFor(29);
  std::map<std::string, int> seen;
  for (const auto& e : all) {
    EXPECT_TRUE(e.status.ok()) << e.id << ": " << e.status;
    EXPECT_EQ(e.steps_run, e.id[0] == 'b' ? 7 : 5) << e.id;
    ++seen[e.id];
  }
  EXPECT_EQ(seen.size(), 29u);
  WaitUntil([](const SchedulerStats& s) { return s.active == 0; });
  const SchedulerStats s = scheduler_->Stats();
  EXPECT_EQ(s.completed, 29);
  EXPECT_EQ(s.Of(JobClass::kBatch).track_steps, 20 * 7);
  EXPECT_EQ(s.Of(JobClass::kInteractive).track_steps, 9 * 5);
  EXPECT_EQ(s.Of(JobClass::kInteractive).completed, 9);
  // No interactive step ever ran more rows than its block has.
  for (const auto& call : backend_->Steps()) {
    if (call.first_row >= 8) EXPECT_LE(call.rows, 4);
  }
}

TEST_F(SchedulerTest, InteractiveTrackDoesNotPayTheBatchStepTime) {
  SchedulerOptions o = Blocks(256, 4);
  o.batch_chunk_rows = 32;      // 3.2 ms of fake time
  Start(o, microseconds(100));  // a whole batch step: 25.6 ms of fake time
  ASSERT_TRUE(
      scheduler_->Submit(Jobs("b", 256, 100000, JobClass::kBatch)).ok());
  WaitUntil([](const SchedulerStats& s) {
    return s.Of(JobClass::kBatch).steps >= 2;
  });
  // Hold the backend so at most the chunk already past the hold runs
  // between reading the clock and the submission; the chunk waiting at the
  // hold runs once released, before the next boundary admits the track.
  std::vector<Job> one;
  one.push_back(MakeTestJob("one", 50, JobClass::kInteractive));
  backend_->Hold();
  const Clock::time_point submitted = clock_.Now();
  ASSERT_TRUE(scheduler_->Submit(std::move(one)).ok());
  backend_->Release();
  const auto done = outcomes_.WaitFor(1);
  ASSERT_EQ(done[0].id, "one");
  ASSERT_TRUE(done[0].status.ok());
  // 50 steps of one row (5 ms, shorter than the 10 ms interactive burst the
  // batch block's share never interrupts) plus the chunk in progress when it
  // arrived (32 rows, 3.2 ms), not 50 x 25.6 ms.
  const double ms =
      std::chrono::duration<double, std::milli>(done[0].at - submitted).count();
  EXPECT_LE(ms, 5.0 + 3.2 + 0.5) << "interactive latency in fake time";
  EXPECT_GE(ms, 5.0);
  // Batch steps ran as 32-row chunks.
  int max_chunk = 0;
  for (const auto& call : backend_->Steps()) {
    if (call.first_row < 256) max_chunk = std::max(max_chunk, call.rows);
  }
  EXPECT_LE(max_chunk, 32);
}

TEST_F(SchedulerTest, BatchKeepsItsMinimumShareUnderAnInteractiveFlood) {
  SchedulerOptions o = Blocks(64, 8);
  o.batch_min_share = 0.25;
  o.batch_chunk_rows = 32;
  Start(o, microseconds(100));
  // One Submit: both blocks have work from the first step on.
  std::vector<Job> jobs = Jobs("b", 64, 100000, JobClass::kBatch);
  for (Job& j : Jobs("i", 200, 100000, JobClass::kInteractive))
    jobs.push_back(std::move(j));
  ASSERT_TRUE(scheduler_->Submit(std::move(jobs)).ok());
  WaitUntil([](const SchedulerStats& s) {
    return s.Of(JobClass::kBatch).busy_s + s.Of(JobClass::kInteractive).busy_s >
           2.0;
  });
  const SchedulerStats s = scheduler_->Stats();
  const double batch = s.Of(JobClass::kBatch).busy_s;
  const double interactive = s.Of(JobClass::kInteractive).busy_s;
  EXPECT_GT(interactive, 0);
  EXPECT_NEAR(batch / (batch + interactive), 0.25, 0.03)
      << "batch " << batch << " s, interactive " << interactive << " s";
}

TEST_F(SchedulerTest, TrackStepRatesAreMeasuredAndGoToZeroWhenIdle) {
  SchedulerOptions o = Blocks(20, 0);
  Start(o, microseconds(100));  // 2 ms a step of 20 rows: 10000 track-steps/s
  ASSERT_TRUE(scheduler_->Submit(Jobs("b", 20, 1500, JobClass::kBatch)).ok());
  outcomes_.WaitFor(20);
  EXPECT_NEAR(scheduler_->Stats().Of(JobClass::kBatch).track_steps_per_s, 10000,
              100);
  clock_.Advance(std::chrono::seconds(3));
  EXPECT_EQ(scheduler_->Stats().Of(JobClass::kBatch).track_steps_per_s, 0);
}

TEST_F(SchedulerTest, StepTimeIsTheBackendTimeOfWholeSteps) {
  SchedulerOptions o = Blocks(20, 0);
  o.batch_chunk_rows = 5;       // each step runs as 4 chunks of 0.5 ms
  Start(o, microseconds(100));  // 2 ms a step of 20 rows
  ASSERT_TRUE(scheduler_->Submit(Jobs("b", 20, 50, JobClass::kBatch)).ok());
  outcomes_.WaitFor(20);
  const ClassStats c = scheduler_->Stats().Of(JobClass::kBatch);
  ASSERT_EQ(c.steps, 50);
  EXPECT_EQ(c.step_seconds[4], 50) << "every step in the (1 ms, 2.5 ms] bucket";
  EXPECT_NEAR(c.step_seconds_sum, 50 * 0.002, 1e-6);
  EXPECT_EQ(scheduler_->Stats().graph_captures, 4)
      << "the backend's count: four chunk ranges of 5 rows";
}

TEST_F(SchedulerTest, WithoutBatchWorkInteractiveHasTheWholeBackend) {
  SchedulerOptions o = Blocks(16, 4);
  Start(o);
  ASSERT_TRUE(
      scheduler_->Submit(Jobs("i", 4, 30, JobClass::kInteractive)).ok());
  outcomes_.WaitFor(4);
  const SchedulerStats s = scheduler_->Stats();
  EXPECT_EQ(s.Of(JobClass::kBatch).steps, 0);
  EXPECT_EQ(s.Of(JobClass::kInteractive).steps, 30);
  EXPECT_EQ(s.Of(JobClass::kInteractive).formed_batch[2], 30)
      << "30 steps of 4 rows";
}

TEST_F(SchedulerTest, TwoBatchCallersOfDifferentSizesProgressAtTheSameRate) {
  SchedulerOptions o = Blocks(20, 0);
  Start(o);
  // The big caller submits first; FIFO would run all of it before the small
  // one.
  std::vector<Job> jobs = Jobs("big-", 600, 5, JobClass::kBatch, "big");
  std::vector<Job> small = Jobs("small-", 100, 5, JobClass::kBatch, "small");
  for (Job& j : small) jobs.push_back(std::move(j));
  ASSERT_TRUE(scheduler_->Submit(std::move(jobs)).ok());
  const auto all = outcomes_.WaitFor(700);
  int big_done = 0, small_done = 0;
  for (const auto& e : all) {
    (e.caller == "big" ? big_done : small_done)++;
    if (small_done == 100) break;
  }
  EXPECT_EQ(small_done, 100);
  EXPECT_NEAR(big_done, 100, 10)
      << "the big caller's tracks finished by the time the small "
         "caller's last one did";
}

TEST_F(SchedulerTest, InteractiveJobsAreAdmittedInOrderOfArrival) {
  SchedulerOptions o = Blocks(4, 1);
  Start(o);
  std::vector<Job> jobs;
  for (const char* id : {"first", "second", "third"}) {
    jobs.push_back(MakeTestJob(id, 3, JobClass::kInteractive));
  }
  ASSERT_TRUE(scheduler_->Submit(std::move(jobs)).ok());
  const auto all = outcomes_.WaitFor(3);
  EXPECT_EQ(all[0].id, "first");
  EXPECT_EQ(all[1].id, "second");
  EXPECT_EQ(all[2].id, "third");
}

TEST_F(SchedulerTest,
       WithoutAnInteractiveBlockInteractiveJobsGoFirstInTheBatchBlock) {
  SchedulerOptions o = Blocks(2, 0);
  Start(o);
  std::vector<Job> jobs = Jobs("b", 4, 10, JobClass::kBatch, "x");
  jobs.push_back(MakeTestJob("urgent", 10, JobClass::kInteractive));
  ASSERT_TRUE(scheduler_->Submit(std::move(jobs)).ok());
  const auto all = outcomes_.WaitFor(5);
  // Two batch tracks fill the block at once; the urgent one takes the next
  // slot.
  int position = 0;
  while (all[position].id != "urgent") ++position;
  EXPECT_LE(position, 2);
  EXPECT_EQ(scheduler_->Stats().Of(JobClass::kInteractive).steps, 0);
}

TEST_F(SchedulerTest, CancelAndDeadlineRetireTracksAndFreeTheirSlots) {
  SchedulerOptions o = Blocks(4, 2);
  Start(o);
  auto cancelled = std::make_shared<CallControl>();
  auto expiring = std::make_shared<CallControl>();
  expiring->deadline = clock_.Now() + milliseconds(20);
  std::vector<Job> jobs;
  jobs.push_back(MakeTestJob("c", 100000, JobClass::kBatch, "", cancelled));
  jobs.push_back(
      MakeTestJob("d", 100000, JobClass::kInteractive, "", expiring));
  ASSERT_TRUE(scheduler_->Submit(std::move(jobs)).ok());
  EXPECT_EQ(outcomes_.WaitFor(1)[0].id, "d");  // 20 ms of fake time: 200 steps
  WaitUntil([](const SchedulerStats& s) {
    return s.Of(JobClass::kBatch).active == 1;
  });
  cancelled->cancelled.store(true);
  outcomes_.WaitFor(2);
  EXPECT_EQ(outcomes_.Of("c").status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(outcomes_.Of("d").status.code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(outcomes_.Of("d").at, expiring->deadline);
  WaitUntil([](const SchedulerStats& s) { return s.active == 0; });
  const SchedulerStats s = scheduler_->Stats();
  EXPECT_EQ(s.cancelled, 1);
  EXPECT_EQ(s.deadline_exceeded, 1);
}

TEST_F(SchedulerTest, AMultiStartTrackTakesARowPerStartAndIsAnsweredOnce) {
  Start(Blocks(8, 4));
  models::NioOptions three;
  three.steps = 6;
  three.starts = 3;
  std::vector<Job> jobs;
  for (const char* id : {"x", "y", "z"})
    jobs.push_back(MakeOptionsJob(id, three, JobClass::kInteractive));
  ASSERT_TRUE(scheduler_->Submit(std::move(jobs)).ok());
  const auto all = outcomes_.WaitFor(3);
  for (const auto& e : all) {
    EXPECT_TRUE(e.status.ok()) << e.id << ": " << e.status;
    EXPECT_EQ(e.steps_run, 6);
  }
  WaitUntil([](const SchedulerStats& s) { return s.active == 0; });
  const SchedulerStats s = scheduler_->Stats();
  EXPECT_EQ(s.completed, 3);
  EXPECT_EQ(s.Of(JobClass::kInteractive).track_steps, 3 * 3 * 6);
  // The 4-row block holds one 3-start track at a time: a track's rows are
  // admitted together or not at all.
  for (const auto& call : backend_->Steps()) {
    if (call.first_row >= 8) EXPECT_EQ(call.rows, 3);
  }
  models::NioOptions five = three;
  five.starts = 5;
  std::vector<Job> too_wide;
  too_wide.push_back(MakeOptionsJob("wide", five, JobClass::kInteractive));
  const absl::Status refused = scheduler_->Submit(std::move(too_wide));
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("options.starts"), std::string::npos)
      << refused;
}

TEST_F(SchedulerTest, ATargetStopsEveryStartAndATimeBudgetStopsTheTrack) {
  Start(Blocks(8, 4));
  // The fake's prediction is a row's step count: a target of 5 is reached
  // at the fifth step.
  models::NioOptions target;
  target.mode = models::NioMode::kProjected;
  target.steps = 1000;
  target.starts = 2;
  target.target = 5;
  models::NioOptions budget;
  budget.steps = 100000;
  budget.starts = 2;
  budget.time_budget_ms = 10;  // 100 fake steps of 2 rows at 100 us a row
  std::vector<Job> jobs;
  jobs.push_back(MakeOptionsJob("target", target, JobClass::kBatch));
  jobs.push_back(MakeOptionsJob("budget", budget, JobClass::kInteractive));
  const Clock::time_point start = clock_.Now();
  ASSERT_TRUE(scheduler_->Submit(std::move(jobs)).ok());
  outcomes_.WaitFor(2);
  const auto reached = outcomes_.Of("target");
  ASSERT_TRUE(reached.status.ok()) << reached.status;
  EXPECT_EQ(reached.stop_reason, models::StopReason::kTarget);
  EXPECT_EQ(reached.steps_run, 5);
  const auto timed = outcomes_.Of("budget");
  ASSERT_TRUE(timed.status.ok()) << timed.status;
  EXPECT_EQ(timed.stop_reason, models::StopReason::kTimeBudget);
  EXPECT_GE(timed.at, start + milliseconds(10));
  EXPECT_LT(timed.steps_run, 1000);
  WaitUntil([](const SchedulerStats& s) { return s.active == 0; });
  EXPECT_EQ(scheduler_->Stats().completed, 2);
}

TEST_F(SchedulerTest, QueuedTracksAreAnsweredAtTheirDeadlineNotWhenASlotFrees) {
  Start(Blocks(1, 0));
  auto running = std::make_shared<CallControl>();
  auto waiting = std::make_shared<CallControl>();
  auto gone = std::make_shared<CallControl>();
  waiting->deadline = clock_.Now() + milliseconds(20);
  std::vector<Job> jobs;
  jobs.push_back(MakeTestJob("long", 100000, JobClass::kBatch, "", running));
  jobs.push_back(MakeTestJob("waits", 5, JobClass::kBatch, "", waiting));
  jobs.push_back(MakeTestJob("cancelled", 5, JobClass::kBatch, "x", gone));
  ASSERT_TRUE(scheduler_->Submit(std::move(jobs)).ok());
  gone->cancelled.store(true);
  outcomes_.WaitFor(2);
  EXPECT_EQ(outcomes_.Of("cancelled").status.code(),
            absl::StatusCode::kCancelled);
  const auto late = outcomes_.Of("waits");
  EXPECT_EQ(late.status.code(), absl::StatusCode::kDeadlineExceeded);
  // At its deadline (within a scan interval and a step), the long track
  // still holding the only slot.
  EXPECT_LT(late.at, waiting->deadline + milliseconds(15));
  WaitUntil([](const SchedulerStats& s) { return s.queued == 0; });
  EXPECT_EQ(scheduler_->Stats().Of(JobClass::kBatch).active, 1);
  running->cancelled.store(true);
  outcomes_.WaitFor(3);
  EXPECT_EQ(outcomes_.Of("long").status.code(), absl::StatusCode::kCancelled);
}

TEST_F(SchedulerTest, QueuedTracksPastTheirDeadlineNeverTakeASlot) {
  SchedulerOptions o = Blocks(1, 0);
  Start(o);
  auto expired = std::make_shared<CallControl>();
  expired->deadline = clock_.Now() - milliseconds(1);
  std::vector<Job> jobs;
  jobs.push_back(MakeTestJob("late", 5, JobClass::kBatch, "", expired));
  jobs.push_back(MakeTestJob("fine", 5, JobClass::kBatch));
  ASSERT_TRUE(scheduler_->Submit(std::move(jobs)).ok());
  outcomes_.WaitFor(2);
  EXPECT_EQ(outcomes_.Of("late").status.code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(outcomes_.Of("fine").status.ok());
  EXPECT_EQ(scheduler_->Stats().track_steps, 5);
}

TEST_F(SchedulerTest,
       AFailedStepAnswersItsBlockWithInternalAndTheSchedulerGoesOn) {
  SchedulerOptions o = Blocks(4, 2);
  Start(o);
  backend_->FailNextStep();
  ASSERT_TRUE(scheduler_->Submit(Jobs("a", 3, 10, JobClass::kBatch)).ok());
  outcomes_.WaitFor(3);
  for (const char* id : {"a0", "a1", "a2"}) {
    EXPECT_EQ(outcomes_.Of(id).status.code(), absl::StatusCode::kInternal)
        << id;
  }
  ASSERT_TRUE(scheduler_->Submit(Jobs("z", 2, 10, JobClass::kBatch)).ok());
  outcomes_.WaitFor(5);
  EXPECT_TRUE(outcomes_.Of("z0").status.ok());
  EXPECT_TRUE(outcomes_.Of("z1").status.ok());
  WaitUntil([](const SchedulerStats& s) { return s.active == 0; });
  EXPECT_EQ(scheduler_->Stats().failed, 3);
}

// An admit (LoadRows) that fails: the tracks it was loading are answered
// INTERNAL once each and their slots freed; the scheduler goes on.
TEST_F(SchedulerTest, AFailedAdmitAnswersItsTracksOnceAndTheSchedulerGoesOn) {
  SchedulerOptions o = Blocks(4, 2);
  Start(o);
  backend_->FailNextLoad();
  ASSERT_TRUE(scheduler_->Submit(Jobs("a", 3, 10, JobClass::kBatch)).ok());
  outcomes_.WaitFor(3);
  for (const char* id : {"a0", "a1", "a2"}) {
    const absl::Status& s = outcomes_.Of(id).status;
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << id;
  }
  ASSERT_TRUE(scheduler_->Submit(Jobs("z", 4, 10, JobClass::kBatch)).ok());
  outcomes_.WaitFor(7);
  for (const char* id : {"z0", "z1", "z2", "z3"}) {
    EXPECT_TRUE(outcomes_.Of(id).status.ok()) << id;
  }
  WaitUntil([](const SchedulerStats& s) { return s.active == 0; });
  EXPECT_EQ(scheduler_->Stats().failed, 3);
  EXPECT_EQ(outcomes_.WaitFor(7).size(), 7u) << "each track answered once";
}

// A fault that stays (a lost device): the tracks in flight fail INTERNAL,
// the queued ones and every later call UNAVAILABLE naming the fault, each
// answered once; the server is told once, so health can say NOT_SERVING.
TEST_F(SchedulerTest, ABrokenBackendAnswersEveryTrackOnceAndRefusesNewWork) {
  SchedulerOptions o = Blocks(4, 0);
  Start(o);
  std::atomic<int> told{0};
  scheduler_->OnBackendBroken([&](const absl::Status& why) {
    EXPECT_NE(why.message().find("fake device lost"), std::string::npos);
    ++told;
  });
  backend_->Break();
  // 4 run (and fail), 8 wait in the queue behind them.
  ASSERT_TRUE(scheduler_->Submit(Jobs("a", 12, 3, JobClass::kBatch)).ok());
  outcomes_.WaitFor(12);
  int internal = 0, unavailable = 0;
  for (int i = 0; i < 12; ++i) {
    const absl::Status s = outcomes_.Of("a" + std::to_string(i)).status;
    internal += s.code() == absl::StatusCode::kInternal;
    unavailable += s.code() == absl::StatusCode::kUnavailable;
  }
  EXPECT_EQ(internal, 4);
  EXPECT_EQ(unavailable, 8);
  EXPECT_EQ(told.load(), 1);
  EXPECT_EQ(scheduler_->BackendHealth().code(), absl::StatusCode::kUnavailable);
  const absl::Status later =
      scheduler_->Submit(Jobs("b", 1, 3, JobClass::kBatch));
  EXPECT_EQ(later.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(later.message().find("needs a restart"), std::string::npos)
      << later;
  const SchedulerStats stats = scheduler_->Stats();
  EXPECT_EQ(stats.failed, 4);
  EXPECT_EQ(stats.backend_broken, 8);
}

// The gather at retire succeeds but the compaction fails: no track is
// answered twice, every one once, with the error.
TEST_F(SchedulerTest, AFailedMoveAtRetireAnswersEveryTrackOnce) {
  SchedulerOptions o = Blocks(4, 0);
  Start(o);
  backend_->FailNextMove();
  // Different step counts: the first to leave needs a move of a survivor.
  std::vector<Job> jobs = Jobs("a", 2, 3, JobClass::kBatch);
  for (Job& j : Jobs("b", 2, 9, JobClass::kBatch)) jobs.push_back(std::move(j));
  ASSERT_TRUE(scheduler_->Submit(std::move(jobs)).ok());
  outcomes_.WaitFor(4);
  WaitUntil([](const SchedulerStats& s) { return s.active == 0; });
  std::map<std::string, int> answers;
  for (const auto& e : outcomes_.WaitFor(4)) ++answers[e.id];
  EXPECT_EQ(answers.size(), 4u);
  for (const auto& [id, n] : answers) EXPECT_EQ(n, 1) << id;
  ASSERT_TRUE(scheduler_->Submit(Jobs("z", 4, 3, JobClass::kBatch)).ok());
  outcomes_.WaitFor(8);
  EXPECT_TRUE(outcomes_.Of("z3").status.ok());
}

TEST_F(SchedulerTest, AFailedGatherAtRetireAnswersEveryTrackAndFreesTheSlots) {
  SchedulerOptions o = Blocks(4, 0);
  Start(o);
  backend_->FailNextGather();
  ASSERT_TRUE(scheduler_->Submit(Jobs("a", 4, 3, JobClass::kBatch)).ok());
  outcomes_.WaitFor(4);
  for (const char* id : {"a0", "a1", "a2", "a3"}) {
    EXPECT_EQ(outcomes_.Of(id).status.code(), absl::StatusCode::kInternal)
        << id;
  }
  WaitUntil([](const SchedulerStats& s) { return s.active == 0; });
  ASSERT_TRUE(scheduler_->Submit(Jobs("z", 4, 3, JobClass::kBatch)).ok());
  outcomes_.WaitFor(8);
  EXPECT_TRUE(outcomes_.Of("z3").status.ok());
}

TEST_F(SchedulerTest,
       StopPastItsDeadlineAnswersQueuedAndActiveTracksUnavailable) {
  SchedulerOptions o = Blocks(2, 1);
  Start(o);
  ASSERT_TRUE(scheduler_->Submit(Jobs("b", 5, 100000, JobClass::kBatch)).ok());
  WaitUntil([](const SchedulerStats& s) { return s.active == 2; });
  scheduler_->Stop(clock_.Now());
  const auto all = outcomes_.WaitFor(5);
  for (const auto& e : all) {
    EXPECT_EQ(e.status.code(), absl::StatusCode::kUnavailable) << e.id;
  }
  // Every track counted once: two cut in their slots, three in the queue.
  const SchedulerStats stats = scheduler_->Stats();
  EXPECT_EQ(stats.shut_down, 5);
  EXPECT_EQ(stats.deadline_exceeded, 0);
  EXPECT_EQ(stats.completed + stats.cancelled + stats.deadline_exceeded +
                stats.failed + stats.shut_down,
            stats.submitted);
  EXPECT_EQ(scheduler_->Submit(Jobs("late", 1, 1, JobClass::kBatch)).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(SchedulerTest, QueueLimitRejectsAllOrNothing) {
  SchedulerOptions o = Blocks(1, 0);
  o.max_queue = 3;
  Start(o);
  EXPECT_EQ(scheduler_->Submit(Jobs("x", 4, 1, JobClass::kBatch)).code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(scheduler_->Stats().rejected_queue_full, 4);
  EXPECT_EQ(scheduler_->Stats().submitted, 0);
}

TEST(LaneArbiterTest, InteractiveFirstButBatchGetsItsShare) {
  // Share 0.2: ratio 0.25; burst 8 ms: credit within +-2 ms.
  LaneArbiter a(0.2, milliseconds(8));
  EXPECT_EQ(a.Next(true, true), JobClass::kInteractive);
  EXPECT_EQ(a.Next(false, true), JobClass::kBatch);
  EXPECT_EQ(a.Next(true, false), JobClass::kInteractive);
  // A fresh burst runs 8 ms before the batch block claims its share...
  a.Ran(JobClass::kInteractive, milliseconds(8), true);
  EXPECT_EQ(a.Next(true, true), JobClass::kInteractive);
  // ...then every 4 ms of interactive work earns the batch block 1 ms.
  a.Ran(JobClass::kInteractive, milliseconds(4), true);
  EXPECT_EQ(a.Next(true, true), JobClass::kBatch);
  a.Ran(JobClass::kBatch, milliseconds(1), true);
  EXPECT_EQ(a.Next(true, true), JobClass::kInteractive);
  // Interactive time the batch block did not want earns nothing.
  a.Ran(JobClass::kInteractive, milliseconds(100), false);
  EXPECT_EQ(a.Next(true, true), JobClass::kInteractive);
  // Credit is capped at 2 ms: 100 ms of interactive work earn one 2 ms turn.
  a.Ran(JobClass::kInteractive, milliseconds(100), true);
  a.Ran(JobClass::kBatch, milliseconds(2), true);
  EXPECT_EQ(a.Next(true, true), JobClass::kInteractive);
  // The batch block running alone spends its credit down to the debt a
  // fresh burst starts from.
  a.Ran(JobClass::kInteractive, milliseconds(100), true);
  a.Ran(JobClass::kBatch, milliseconds(50), false);
  a.Ran(JobClass::kInteractive, milliseconds(7), true);
  EXPECT_EQ(a.Next(true, true), JobClass::kInteractive);
}

TEST(LaneArbiterTest, ZeroShareIsStrictPriority) {
  LaneArbiter a(0.0, milliseconds(40));
  a.Ran(JobClass::kInteractive, std::chrono::seconds(10), true);
  EXPECT_EQ(a.Next(true, true), JobClass::kInteractive);
}

// Batch work always waiting; interactive calls of `call` arrive every
// `period` (demand call/period); the backend runs 35 us interactive steps or
// 2 ms batch chunks as the arbiter says. Returns the batch block's share.
double SimulatedBatchShare(microseconds call, microseconds period) {
  LaneArbiter a(0.2, milliseconds(40));
  const microseconds step(35), chunk(2000), total(std::chrono::seconds(20));
  microseconds now(0), next_arrival(0), interactive_left(0), batch_time(0);
  while (now < total) {
    while (next_arrival <= now) {
      interactive_left += call;
      next_arrival += period;
    }
    const JobClass next = a.Next(interactive_left.count() > 0, true);
    const microseconds took = next == JobClass::kInteractive ? step : chunk;
    if (next == JobClass::kInteractive) {
      interactive_left -= std::min(interactive_left, took);
    } else {
      batch_time += took;
    }
    a.Ran(next, took, true);
    now += took;
  }
  return static_cast<double>(batch_time.count()) / now.count();
}

TEST(LaneArbiterTest, BatchKeepsItsShareAgainstATrainOfShortCalls) {
  // 10.5 ms calls (300 one-row steps) arriving faster and faster: the batch
  // block gets what is left, but never less than its 20% (up to a chunk's
  // rounding), including when the calls leave short gaps between them.
  for (int period_us : {100000, 20000, 12500, 11200, 10600, 5000}) {
    const double share =
        SimulatedBatchShare(microseconds(10500), microseconds(period_us));
    const double left = std::max(0.0, 1.0 - 10500.0 / period_us);
    EXPECT_GE(share, std::min(0.19, left - 0.01))
        << "a call every " << period_us << " us";
    EXPECT_LE(share, std::max(0.21, left + 0.01))
        << "a call every " << period_us << " us";
  }
}

Job CallerJob(const std::string& caller, int i) {
  Job j;
  j.problem.id = caller + std::to_string(i);
  j.traits.caller = caller;
  return j;
}

TEST(FairQueueTest, SlotsGoToTheCallerWithTheFewestActiveTracks) {
  FairQueue q;
  for (int i = 0; i < 10; ++i) q.Push(CallerJob("a", i));
  for (int i = 0; i < 3; ++i) q.Push(CallerJob("b", i));
  std::unordered_map<std::string, int> active = {{"a", 2}};
  const auto taken = q.Take(6, &active);
  ASSERT_EQ(taken.size(), 6u);
  int b = 0;
  for (const Job& j : taken) b += j.traits.caller == "b";
  EXPECT_EQ(b, 3) << "b had none active: it gets the first slots up to a's 2, "
                     "then alternates";
  EXPECT_EQ(active["a"], 5);
  EXPECT_EQ(active["b"], 3);
  EXPECT_EQ(q.Size(), 7u);
  // Each caller's own jobs stay in order.
  EXPECT_EQ(
      taken.front().problem.id == "b0" || taken.front().problem.id == "a0",
      true);
  EXPECT_EQ(q.TakeAll().size(), 7u);
  EXPECT_TRUE(q.Empty());
}

}  // namespace
}  // namespace nio::service
