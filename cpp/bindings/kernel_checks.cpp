// _core._kernel_<name>: one kernel of KernelsFor(level) on numpy inputs (see
// kernel_checks.h). Test hooks, not an API: inputs are checked only as far as needed to
// keep the kernels inside their arrays.
#include "kernel_checks.h"

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "acctsne/common.h"
#include "acctsne/simd.h"
#include "kernels/kernels.h"

namespace py = pybind11;
namespace kn = acctsne::kernels;

namespace {

template <typename T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

// The table of a level this CPU runs (an unsupported one would fault, not throw).
const kn::KernelTable& Table(const std::string& level_name) {
  const acctsne::SimdLevel level = acctsne::ParseSimdLevel(level_name);
  acctsne::RequireSupported(level);
  return kn::KernelsFor(level);
}

void Require(bool ok, const char* what) {
  if (!ok) throw acctsne::InvalidArgument(acctsne::StrCat("kernel check: ", what));
}

py::tuple DotTile(const std::string& level, const CArray<float>& queries,
                  const CArray<float>& tile, const CArray<float>& q_norms,
                  const CArray<float>& tile_norms, const CArray<float>& thresholds,
                  const std::optional<CArray<float>>& col_thresholds) {
  Require(queries.ndim() == 2 && tile.ndim() == 2, "queries and tile must be 2-D");
  const auto nq = queries.shape(0), d = queries.shape(1);
  Require(tile.shape(0) == d && tile.shape(1) == kn::kRefTile, "tile must be d x 64");
  Require(q_norms.size() == nq && thresholds.size() == nq, "one norm, threshold a query");
  Require(tile_norms.size() == kn::kRefTile, "one norm a reference");
  Require(!col_thresholds || col_thresholds->size() == kn::kRefTile, "one col threshold a reference");
  CArray<float> out({nq, static_cast<py::ssize_t>(kn::kRefTile)});
  CArray<uint64_t> masks(nq), col_masks(nq);
  Table(level).dot_tile(queries.data(), d, static_cast<int>(nq), tile.data(),
                        static_cast<int>(d), q_norms.data(), tile_norms.data(),
                        thresholds.data(), out.mutable_data(), masks.mutable_data(),
                        col_thresholds ? col_thresholds->data() : nullptr,
                        col_thresholds ? col_masks.mutable_data() : nullptr);
  if (!col_thresholds) return py::make_tuple(out, masks, py::none());
  return py::make_tuple(out, masks, col_masks);
}

template <typename Fn>
auto Distance(Fn fn, const CArray<float>& a, const CArray<float>& b) {
  Require(a.ndim() == 1 && a.size() == b.size(), "a and b must be rows of one length");
  return fn(a.data(), b.data(), a.size());
}

py::tuple PerplexityStep(const std::string& level, const CArray<float>& dist, int64_t skip,
                         double beta, double min_row_sum) {
  Require(dist.ndim() == 1, "dist must be 1-D");
  CArray<double> p(dist.size());
  double sum_dist_p = 0.0;
  const double sum_p = Table(level).perplexity_step(dist.data(), dist.size(), skip, beta,
                                                    min_row_sum, p.mutable_data(), &sum_dist_p);
  return py::make_tuple(sum_p, p, sum_dist_p);
}

// rows: n x ld, of which the first d columns are projected (ld > d tests the stride).
CArray<double> ProjectRows(const std::string& level, const CArray<float>& rows, int64_t d,
                           const CArray<double>& basis_t) {
  Require(rows.ndim() == 2 && basis_t.ndim() == 2, "rows and basis_t must be 2-D");
  Require(d >= 0 && d <= rows.shape(1) && basis_t.shape(0) == d, "basis_t must be d x m");
  const auto n = rows.shape(0), m = basis_t.shape(1);
  CArray<double> out({n, m});
  Table(level).project_rows(rows.data(), rows.shape(1), n, d, basis_t.data(), m,
                            out.mutable_data());
  return out;
}

// pos: dims x n_points (n_points a multiple of kGroupLanes); list_pos: dims x size.
// heavy_tail_dof: run the heavy-tailed kernel of that alpha instead (dof not read).
py::tuple Interact(const std::string& level, int dof, const CArray<float>& pos,
                   const CArray<float>& list_pos, const CArray<float>& count, int n_plain,
                   std::optional<float> heavy_tail_dof) {
  Require(pos.ndim() == 2 && list_pos.ndim() == 2, "pos and list_pos must be 2-D");
  const int dims = static_cast<int>(pos.shape(0));
  const auto n_points = pos.shape(1), size = list_pos.shape(1);
  kn::CheckKernelShape(dims, heavy_tail_dof ? 1 : dof);
  Require(n_points % kn::kGroupLanes == 0, "n_points must be a multiple of 16");
  Require(list_pos.shape(0) == dims && count.size() == size, "list arrays disagree");
  Require(n_plain >= 0 && n_plain <= size, "n_plain must be in [0, size]");
  kn::InteractionList list{};
  const float* point_pos[kn::kMaxDims] = {};
  CArray<float> force({static_cast<py::ssize_t>(dims), n_points});
  CArray<float> z(n_points);
  float* force_rows[kn::kMaxDims] = {};
  for (int a = 0; a < dims; ++a) {
    list.pos[a] = list_pos.data(a, 0);
    point_pos[a] = pos.data(a, 0);
    force_rows[a] = force.mutable_data(a, 0);
  }
  list.count = count.data();
  list.n_plain = n_plain;
  list.size = static_cast<int>(size);
  if (heavy_tail_dof)
    Table(level).interact_heavy_tail[dims - 1](point_pos, static_cast<int>(n_points), list,
                                               *heavy_tail_dof, force_rows, z.mutable_data());
  else
    Table(level).interact[dims - 1][dof - 1](point_pos, static_cast<int>(n_points), list,
                                             force_rows, z.mutable_data());
  return py::make_tuple(force, z);
}

// P as CSR arrays (+ optional point of each row), Y n x dims; rows [row_begin, row_end).
struct CsrArgs {
  CArray<int64_t> indptr;
  CArray<int32_t> indices;
  CArray<float> data;
  std::optional<CArray<int32_t>> row_point;
  acctsne::CsrView view;
};

CsrArgs MakeCsr(CArray<int64_t> indptr, CArray<int32_t> indices, CArray<float> data,
                std::optional<CArray<int32_t>> row_point, const CArray<float>& Y,
                int64_t row_begin, int64_t row_end) {
  CsrArgs csr{std::move(indptr), std::move(indices), std::move(data), std::move(row_point), {}};
  const int64_t n = Y.ndim() == 2 ? Y.shape(0) : -1;
  Require(n >= 0 && csr.indptr.size() == n + 1, "indptr must have n + 1 entries");
  Require(csr.indices.size() == csr.data.size(), "indices and data disagree");
  const int64_t* ptr = csr.indptr.data();
  Require(ptr[0] == 0 && ptr[n] == csr.indices.size(), "indptr must span indices");
  for (int64_t i = 0; i < n; ++i) Require(ptr[i] <= ptr[i + 1], "indptr must not decrease");
  for (int64_t e = 0; e < csr.indices.size(); ++e)
    Require(csr.indices.data()[e] >= 0 && csr.indices.data()[e] < n, "index out of range");
  Require(!csr.row_point || csr.row_point->size() == n, "row_point must have n entries");
  for (int64_t i = 0; csr.row_point && i < n; ++i)
    Require(csr.row_point->data()[i] >= 0 && csr.row_point->data()[i] < n,
            "row_point out of range");
  Require(0 <= row_begin && row_begin <= row_end && row_end <= n, "bad row range");
  csr.view = {n, ptr, csr.indices.data(), csr.data.data(),
              csr.row_point ? csr.row_point->data() : nullptr};
  return csr;
}

// heavy_tail_dof: as in Interact.
CArray<float> Attract(const std::string& level, int dof, CArray<int64_t> indptr,
                      CArray<int32_t> indices, CArray<float> data,
                      std::optional<CArray<int32_t>> row_point, float p_scale,
                      const CArray<float>& Y, int64_t row_begin, int64_t row_end,
                      std::optional<float> heavy_tail_dof) {
  const CsrArgs csr = MakeCsr(std::move(indptr), std::move(indices), std::move(data),
                              std::move(row_point), Y, row_begin, row_end);
  const int dims = static_cast<int>(Y.shape(1));
  kn::CheckKernelShape(dims, heavy_tail_dof ? 1 : dof);
  CArray<float> out({Y.shape(0), Y.shape(1)});
  std::fill(out.mutable_data(), out.mutable_data() + out.size(), 0.0f);
  if (heavy_tail_dof)
    Table(level).attract_heavy_tail[dims - 1](csr.view, p_scale, Y.data(), row_begin, row_end,
                                              *heavy_tail_dof, out.mutable_data());
  else
    Table(level).attract[dims - 1][dof - 1](csr.view, p_scale, Y.data(), row_begin, row_end,
                                            out.mutable_data());
  return out;
}

double LogSum(const std::string& level, float dof, CArray<int64_t> indptr,
              CArray<int32_t> indices, CArray<float> data,
              std::optional<CArray<int32_t>> row_point, float p_scale, const CArray<float>& Y,
              int64_t row_begin, int64_t row_end) {
  const CsrArgs csr = MakeCsr(std::move(indptr), std::move(indices), std::move(data),
                              std::move(row_point), Y, row_begin, row_end);
  const int dims = static_cast<int>(Y.shape(1));
  kn::CheckKernelShape(dims, 1);
  return Table(level).log_sum[dims - 1](csr.view, p_scale, Y.data(), row_begin, row_end, dof);
}

}  // namespace

void RegisterKernelChecks(py::module_& m) {
  m.def("_kernel_dot_tile", &DotTile, py::arg("level"), py::arg("queries"), py::arg("tile"),
        py::arg("q_norms"), py::arg("tile_norms"), py::arg("thresholds"),
        py::arg("col_thresholds") = py::none(),
        "DotTileFn at `level`: (out nq x 64, masks uint64, col_masks uint64 or None).");
  m.def(
      "_kernel_squared_distance",
      [](const std::string& level, const CArray<float>& a, const CArray<float>& b) {
        return Distance(Table(level).squared_distance, a, b);
      },
      py::arg("level"), py::arg("a"), py::arg("b"), "SquaredDistanceFn at `level`.");
  m.def(
      "_kernel_squared_distance64",
      [](const std::string& level, const CArray<float>& a, const CArray<float>& b) {
        return Distance(Table(level).squared_distance64, a, b);
      },
      py::arg("level"), py::arg("a"), py::arg("b"), "SquaredDistance64Fn at `level`.");
  m.def("_kernel_perplexity_step", &PerplexityStep, py::arg("level"), py::arg("dist"),
        py::arg("skip"), py::arg("beta"), py::arg("min_row_sum"),
        "PerplexityStepFn at `level`: (sum_p, p float64, sum_dist_p).");
  m.def("_kernel_project_rows", &ProjectRows, py::arg("level"), py::arg("rows"), py::arg("d"),
        py::arg("basis_t"), "ProjectRowsFn at `level`: rows[:, :d] @ basis_t in float64.");
  m.def("_kernel_interact", &Interact, py::arg("level"), py::arg("dof"), py::arg("pos"),
        py::arg("list_pos"), py::arg("count"), py::arg("n_plain"),
        py::arg("heavy_tail_dof") = py::none(),
        "InteractFn at `level` (InteractHeavyTailFn with heavy_tail_dof): (force dims x "
        "n_points, z).");
  m.def("_kernel_attract", &Attract, py::arg("level"), py::arg("dof"), py::arg("indptr"),
        py::arg("indices"), py::arg("data"), py::arg("row_point"), py::arg("p_scale"),
        py::arg("Y"), py::arg("row_begin"), py::arg("row_end"),
        py::arg("heavy_tail_dof") = py::none(),
        "AttractFn at `level` (AttractHeavyTailFn with heavy_tail_dof): forces n x dims "
        "(rows outside the range 0).");
  m.def("_kernel_log_sum", &LogSum, py::arg("level"), py::arg("dof"), py::arg("indptr"),
        py::arg("indices"), py::arg("data"), py::arg("row_point"), py::arg("p_scale"),
        py::arg("Y"), py::arg("row_begin"), py::arg("row_end"), "LogSumFn at `level`.");
}
