// Shared vocabulary of the acctsne core: error types with formatted messages, the
// sparse matrix layout of P, and the numeric constants that scikit-learn's t-SNE uses
// (so that results agree with it). Never includes Python headers.
#pragma once

#include <cstdint>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace acctsne {

// Bad arguments reaching the core (the Python layer validates first; these are the
// cheap re-checks of invariants). Mapped to ValueError by the bindings.
class InvalidArgument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Non-finite values appeared in a phase; the message names the phase.
// Mapped to FloatingPointError by the bindings.
class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The interrupt hook reported a pending signal (Ctrl-C). The bindings re-raise the
// KeyboardInterrupt that the hook saw.
class Interrupted : public std::exception {
 public:
  const char* what() const noexcept override { return "interrupted"; }
};

// Concatenates its arguments with operator<< into one string (for error messages that
// carry the offending values).
template <typename... Args>
std::string StrCat(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  return out.str();
}

#define ACCTSNE_CHECK(cond, ...)                                       \
  do {                                                                 \
    if (!(cond)) throw ::acctsne::InvalidArgument(::acctsne::StrCat(__VA_ARGS__)); \
  } while (0)

// Constants shared with scikit-learn's implementation.
inline constexpr float kFloat32Tiny = std::numeric_limits<float>::min();
inline constexpr double kFloat64Eps = std::numeric_limits<double>::epsilon();
// Two embedding points closer than this in every coordinate are treated as the same
// point by the Barnes-Hut walk (sklearn's quad tree EPSILON): no self-repulsion.
inline constexpr float kDuplicateEpsilon = 1e-6f;

// Compressed sparse rows of the joint probability matrix P (read-only view).
// Row r holds the columns indices[indptr[r] .. indptr[r+1]) with values data[...]. It is
// the row of point row_point[r] when row_point is set (the gradient engines renumber the
// points without moving P: the kernels then read y_i and write out_i at that index while
// still streaming P in storage order), else of point r.
struct CsrView {
  int64_t n_rows = 0;
  const int64_t* indptr = nullptr;
  const int32_t* indices = nullptr;
  const float* data = nullptr;
  const int32_t* row_point = nullptr;

  int64_t PointOfRow(int64_t r) const { return row_point ? row_point[r] : r; }
};

}  // namespace acctsne
