// Status propagation helpers used across the project (kernels/ is the lowest
// layer, so they live here).
#ifndef NIO_KERNELS_STATUS_MACROS_H_
#define NIO_KERNELS_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns the Status of `expr` from the enclosing function when it is not OK.
#define NIO_RETURN_IF_ERROR(expr)                                 \
  do {                                                            \
    if (::absl::Status nio_status_ = (expr); !nio_status_.ok()) { \
      return nio_status_;                                         \
    }                                                             \
  } while (0)

#define NIO_STATUS_CONCAT_INNER_(a, b) a##b
#define NIO_STATUS_CONCAT_(a, b) NIO_STATUS_CONCAT_INNER_(a, b)

// NIO_ASSIGN_OR_RETURN(auto x, StatusOrExpr()): x = value, or return status.
#define NIO_ASSIGN_OR_RETURN(lhs, expr)                                        \
  NIO_ASSIGN_OR_RETURN_IMPL_(NIO_STATUS_CONCAT_(nio_statusor_, __LINE__), lhs, \
                             expr)
#define NIO_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

#endif  // NIO_KERNELS_STATUS_MACROS_H_
