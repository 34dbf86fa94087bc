// LocalEngine: a TrackEngine that runs the NIO engine in this process (the
// batch job without a server, on CUDA when asked and present, else CPU).
#ifndef NIO_CLIENT_LOCAL_ENGINE_H_
#define NIO_CLIENT_LOCAL_ENGINE_H_

#include <condition_variable>
#include <memory>
#include <mutex>

#include "client/track_engine.h"
#include "models/model.h"
#include "service/scheduler.h"

namespace nio::client {

class LocalEngine final : public TrackEngine {
 public:
  // model: not owned, must outlive the engine.
  static absl::StatusOr<std::unique_ptr<LocalEngine>> Create(
      const models::Model& model, const service::SchedulerOptions& options,
      int window);
  absl::Status Start(std::function<void(EngineResult)> on_result) override;
  absl::Status Send(const std::vector<models::RawTrack>& tracks,
                    const models::NioOptions& options) override;
  absl::Status Finish() override;
  std::string Describe() const override;

 private:
  LocalEngine(std::unique_ptr<service::Scheduler> scheduler, int window)
      : window_(window), scheduler_(std::move(scheduler)) {}
  const int window_;
  std::function<void(EngineResult)> on_result_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;  // guarded by mu_
  // Last: destroyed first, so its shutdown callbacks still find the members
  // above.
  std::unique_ptr<service::Scheduler> scheduler_;
};

}  // namespace nio::client

#endif  // NIO_CLIENT_LOCAL_ENGINE_H_
