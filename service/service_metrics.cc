#include "service/service_metrics.h"

#include <array>

#include "service/build_info.h"
#include "service/job.h"
#include "service/process_metrics.h"
#include "service/prometheus_text.h"

namespace nio::service {
namespace {

// One sample per priority class of a per-class stats field.
template <typename Get>
void PerClass(PrometheusText& out, const char* name, const char* type,
              const char* help, const SchedulerStats& stats, Get get) {
  out.Family(name, type, help);
  for (int c = 0; c < kJobClasses; ++c) {
    const JobClass job_class = static_cast<JobClass>(c);
    out.Sample(name, {{"class", JobClassName(job_class)}},
               static_cast<double>(get(stats.Of(job_class))));
  }
}

}  // namespace

std::string RenderMetrics(const MetricsInputs& in) {
  PrometheusText out;
  const BuildInfo build = GetBuildInfo();
  out.Family("nio_build_info", "gauge",
             "Always 1; the labels say what the server binary was built as");
  out.Sample("nio_build_info",
             {{"version", build.version},
              {"build_type", build.build_type},
              {"backends", build.backends}},
             1);
  out.Family("nio_model_info", "gauge",
             "Always 1; the labels name the model served and its backend");
  out.Sample("nio_model_info",
             {{"model", in.model_name},
              {"model_version", in.model_version},
              {"backend", in.backend}},
             1);
  out.Family("nio_ready", "gauge",
             "1 while the server takes work (as /readyz and grpc.health.v1)");
  out.Sample("nio_ready", {}, in.ready ? 1 : 0);
  out.Family("nio_backend_broken", "gauge",
             "1 once the compute backend failed for good");
  out.Sample("nio_backend_broken", {}, in.stats.backend_broken > 0 ? 1 : 0);

  if (in.calls != nullptr) in.calls->WriteTo(&out);
  out.Family("nio_caller_row_steps_in_flight", "gauge",
             "steps x starts of the tracks a caller has queued or running, "
             "held against --max_caller_track_steps (by caller: the token's "
             "name, or anonymous)");
  for (const auto& [label, usage] : in.callers) {
    out.Sample("nio_caller_row_steps_in_flight", {{"caller", label}},
               static_cast<double>(usage.track_steps));
  }
  out.Family("nio_caller_streams_open", "gauge",
             "OptimizeStream calls a caller has open, held against "
             "--max_streams_per_caller");
  for (const auto& [label, usage] : in.callers) {
    out.Sample("nio_caller_streams_open", {{"caller", label}},
               static_cast<double>(usage.streams));
  }

  const SchedulerStats& s = in.stats;
  PerClass(out, "nio_tracks_submitted_total", "counter",
           "Tracks accepted by the scheduler", s,
           [](const ClassStats& c) { return c.submitted; });
  PerClass(out, "nio_tracks_optimized_total", "counter",
           "Tracks optimized and answered", s,
           [](const ClassStats& c) { return c.completed; });
  out.Family("nio_tracks_ended_total", "counter",
             "Tracks that ended without an answer, by reason");
  const std::array<std::pair<const char*, int64_t>, 6> ended = {{
      {"cancelled", s.cancelled},
      {"deadline_exceeded", s.deadline_exceeded},
      {"failed", s.failed},
      {"shut_down", s.shut_down},
      {"backend_broken", s.backend_broken},
      {"queue_full", s.rejected_queue_full},
  }};
  for (const auto& [reason, n] : ended) {
    out.Sample("nio_tracks_ended_total", {{"reason", reason}},
               static_cast<double>(n));
  }
  out.Family("nio_step_graph_captures_total", "counter",
             "Steps the backend captured as a graph (CUDA: once per row "
             "bucket and block; 0 on the CPU)");
  out.Sample("nio_step_graph_captures_total", {},
             static_cast<double>(s.graph_captures));
  PerClass(out, "nio_steps_total", "counter",
           "Optimizer steps run by the class's block", s,
           [](const ClassStats& c) { return c.steps; });
  PerClass(out, "nio_track_steps_total", "counter",
           "Track-steps run (rows advanced by one step)", s,
           [](const ClassStats& c) { return c.track_steps; });
  PerClass(out, "nio_track_steps_per_second", "gauge",
           "Track-steps per second over the last second or so", s,
           [](const ClassStats& c) { return c.track_steps_per_s; });
  PerClass(out, "nio_active_slots", "gauge",
           "Slots (rows) of the class's block in use now; a track takes one "
           "per start",
           s, [](const ClassStats& c) { return c.active; });
  PerClass(out, "nio_queued_tracks", "gauge",
           "Tracks waiting for a slot of the class now", s,
           [](const ClassStats& c) { return c.queued; });
  out.Family("nio_slots", "gauge",
             "Slots (rows) of the class's block; a track takes one per start");
  out.Sample("nio_slots", {{"class", "interactive"}}, in.interactive_slots);
  out.Sample("nio_slots", {{"class", "batch"}}, in.batch_slots);
  PerClass(out, "nio_backend_busy_seconds_total", "counter",
           "Time the class's block had the compute backend", s,
           [](const ClassStats& c) { return c.busy_s; });

  std::array<double, kFormedBatchBounds.size()> batch_bounds{};
  for (size_t i = 0; i < batch_bounds.size(); ++i)
    batch_bounds[i] = kFormedBatchBounds[i];
  out.Family("nio_formed_batch_rows", "histogram",
             "Rows sharing one step (the batch the scheduler formed)");
  for (int c = 0; c < kJobClasses; ++c) {
    const ClassStats& cs = s.by_class[c];
    double rows = static_cast<double>(cs.track_steps);
    out.Histogram("nio_formed_batch_rows",
                  {{"class", JobClassName(static_cast<JobClass>(c))}},
                  batch_bounds, cs.formed_batch, rows);
  }
  out.Family("nio_step_seconds", "histogram",
             "Backend time of one whole step (a batch step's chunks added)");
  for (int c = 0; c < kJobClasses; ++c) {
    const ClassStats& cs = s.by_class[c];
    out.Histogram("nio_step_seconds",
                  {{"class", JobClassName(static_cast<JobClass>(c))}},
                  kStepSecondsBounds, cs.step_seconds, cs.step_seconds_sum);
  }
  WriteProcessMetrics(&out);
  return out.text();
}

}  // namespace nio::service
