#include <utility>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/cuda_status.h"
#include "kernels/cuda/gemm_lt.h"
#include "kernels/status_macros.h"

namespace nio::kernels {
namespace {

// Plans kept at most (a few host objects each): some eleven per row bucket
// and block, more than a server meets; the least recently used goes first.
constexpr size_t kMaxPlans = 4096;

cublasOperation_t ToCublas(GemmOp op) {
  return op == GemmOp::kTrans ? CUBLAS_OP_T : CUBLAS_OP_N;
}

cublasLtEpilogue_t ToCublasLt(GemmEpilogue e) {
  switch (e) {
    case GemmEpilogue::kReluAux:
      return CUBLASLT_EPILOGUE_RELU_AUX;
    case GemmEpilogue::kReluAuxBias:
      return CUBLASLT_EPILOGUE_RELU_AUX_BIAS;
    case GemmEpilogue::kDReluAux:
      return CUBLASLT_EPILOGUE_DRELU;
    case GemmEpilogue::kNone:
      break;
  }
  return CUBLASLT_EPILOGUE_DEFAULT;
}

const char* EpilogueName(GemmEpilogue e) {
  switch (e) {
    case GemmEpilogue::kReluAux:
      return "RELU_AUX";
    case GemmEpilogue::kReluAuxBias:
      return "RELU_AUX_BIAS";
    case GemmEpilogue::kDReluAux:
      return "DRELU";
    case GemmEpilogue::kNone:
      break;
  }
  return "DEFAULT";
}

// The largest power of two (at most 256) that divides the address.
uint32_t Alignment(const void* p) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 4 && v % a != 0) a /= 2;
  return a;
}

}  // namespace

GemmLt::~GemmLt() {
  for (auto& [key, plan] : plans_) Destroy(plan);
  if (handle_) cublasLtDestroy(handle_);
}

void GemmLt::Destroy(Plan& plan) {
  if (plan.a) cublasLtMatrixLayoutDestroy(plan.a);
  if (plan.b) cublasLtMatrixLayoutDestroy(plan.b);
  if (plan.c) cublasLtMatrixLayoutDestroy(plan.c);
  if (plan.desc) cublasLtMatmulDescDestroy(plan.desc);
  plan = Plan{};
}

absl::Status GemmLt::Init(cudaStream_t stream, void* workspace,
                          size_t workspace_bytes, bool allow_tf32) {
  stream_ = stream;
  workspace_ = workspace;
  workspace_bytes_ = workspace_bytes;
  allow_tf32_ = allow_tf32;
  NIO_RETURN_IF_CUBLAS_ERROR(cublasLtCreate(&handle_));
  return absl::OkStatus();
}

GemmLt::Alignments GemmLt::AlignmentsOf(const float* a, const float* b,
                                        const float* c, const float* d) {
  return {Alignment(a), Alignment(b), Alignment(c), Alignment(d)};
}

absl::Status GemmLt::PlanFor(const GemmArgs& g, const Alignments& align,
                             Plan** out) {
  const std::string key = absl::StrCat(
      static_cast<int>(g.trans_a), ",", static_cast<int>(g.trans_b), ",", g.m,
      ",", g.n, ",", g.k, ",", g.lda, ",", g.ldb, ",", g.ldc, ",",
      static_cast<int>(g.epilogue), ",", g.mask_ld, ",", g.beta != 0.0f, ",",
      align.a, ",", align.b, ",", align.c, ",", align.d);
  ++clock_;
  if (auto it = plans_.find(key); it != plans_.end()) {
    it->second.last_used = clock_;
    *out = &it->second;
    return absl::OkStatus();
  }
  if (plans_.size() >= kMaxPlans) {
    auto oldest = plans_.begin();
    for (auto it = plans_.begin(); it != plans_.end(); ++it) {
      if (it->second.last_used < oldest->second.last_used) oldest = it;
    }
    Destroy(oldest->second);
    plans_.erase(oldest);
  }
  Plan plan;
  if (absl::Status s = MakePlan(g, align, plan); !s.ok()) {
    Destroy(plan);
    return s;
  }
  plan.last_used = clock_;
  Plan& kept = plans_[key];
  kept = plan;
  *out = &kept;
  return absl::OkStatus();
}

absl::Status GemmLt::MakePlan(const GemmArgs& g, const Alignments& align,
                              Plan& plan) {
  NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmulDescCreate(
      &plan.desc,
      allow_tf32_ ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
      CUDA_R_32F));
  const cublasOperation_t ta = ToCublas(g.trans_a), tb = ToCublas(g.trans_b);
  const cublasLtEpilogue_t epilogue = ToCublasLt(g.epilogue);
  NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmulDescSetAttribute(
      plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
  NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmulDescSetAttribute(
      plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
  NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmulDescSetAttribute(
      plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
  if (g.epilogue != GemmEpilogue::kNone) {
    const int64_t ld = g.mask_ld;
    NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmulDescSetAttribute(
        plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof(ld)));
    // The heuristic reads the pointers' alignment only: the workspace is
    // as aligned as the real buffers (cudaMalloc).
    const void* any = workspace_;
    NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmulDescSetAttribute(
        plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &any,
        sizeof(any)));
    if (g.epilogue == GemmEpilogue::kReluAuxBias) {
      NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmulDescSetAttribute(
          plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &any, sizeof(any)));
    }
  }
  const bool a_t = g.trans_a == GemmOp::kTrans;
  const bool b_t = g.trans_b == GemmOp::kTrans;
  NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatrixLayoutCreate(
      &plan.a, CUDA_R_32F, a_t ? g.k : g.m, a_t ? g.m : g.k, g.lda));
  NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatrixLayoutCreate(
      &plan.b, CUDA_R_32F, b_t ? g.n : g.k, b_t ? g.k : g.n, g.ldb));
  NIO_RETURN_IF_CUBLAS_ERROR(
      cublasLtMatrixLayoutCreate(&plan.c, CUDA_R_32F, g.m, g.n, g.ldc));

  cublasLtMatmulPreference_t pref = nullptr;
  NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t bytes = workspace_bytes_;
  cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(
      pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &bytes, sizeof(bytes));
  const std::pair<cublasLtMatmulPreferenceAttributes_t, uint32_t> aligns[4] = {
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, align.a},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, align.b},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, align.c},
      {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, align.d}};
  for (const auto& [attr, value] : aligns) {
    if (s != CUBLAS_STATUS_SUCCESS) break;
    s = cublasLtMatmulPreferenceSetAttribute(pref, attr, &value, sizeof(value));
  }
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  if (s == CUBLAS_STATUS_SUCCESS) {
    s = cublasLtMatmulAlgoGetHeuristic(handle_, plan.desc, plan.a, plan.b,
                                       plan.c, plan.c, pref, 1, &result,
                                       &found);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  if (s == CUBLAS_STATUS_NOT_SUPPORTED ||
      (s == CUBLAS_STATUS_SUCCESS &&
       (found == 0 || result.state != CUBLAS_STATUS_SUCCESS))) {
    return absl::UnimplementedError(absl::StrCat(
        "cuBLASLt has no kernel for epilogue ", EpilogueName(g.epilogue),
        " (m=", g.m, " n=", g.n, " k=", g.k, ", alignments ", align.a, "/",
        align.b, "/", align.c, "/", align.d, " bytes)"));
  }
  NIO_RETURN_IF_CUBLAS_ERROR(s);
  plan.algo = result.algo;
  return absl::OkStatus();
}

absl::Status GemmLt::Supports(const GemmArgs& g, const Alignments& at_least) {
  Plan* plan = nullptr;
  return PlanFor(g, at_least, &plan);
}

absl::Status GemmLt::Prepare(const GemmArgs& g, const float* a, const float* b,
                             const float* c, const float* d) {
  if (g.m <= 0 || g.n <= 0) return absl::OkStatus();
  Plan* plan = nullptr;
  return PlanFor(g, AlignmentsOf(a, b, c ? c : d, d), &plan);
}

absl::Status GemmLt::Run(const GemmArgs& g, const float* a, const float* b,
                         const float* c, float* d, const float* bias,
                         uint32_t* mask) {
  if (g.m <= 0 || g.n <= 0) return absl::OkStatus();
  if (c == nullptr) c = d;
  Plan* plan = nullptr;
  NIO_RETURN_IF_ERROR(PlanFor(g, AlignmentsOf(a, b, c, d), &plan));
  if (g.epilogue != GemmEpilogue::kNone) {
    const void* aux = mask;
    NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmulDescSetAttribute(
        plan->desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux,
        sizeof(aux)));
    if (g.epilogue == GemmEpilogue::kReluAuxBias) {
      NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmulDescSetAttribute(
          plan->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    }
  }
  NIO_RETURN_IF_CUBLAS_ERROR(cublasLtMatmul(
      handle_, plan->desc, &g.alpha, a, plan->a, b, plan->b, &g.beta, c,
      plan->c, d, plan->c, &plan->algo, workspace_, workspace_bytes_, stream_));
  return absl::OkStatus();
}

}  // namespace nio::kernels
