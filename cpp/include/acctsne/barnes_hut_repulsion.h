// Barnes-Hut repulsive forces (van der Maaten 2014, eq. 13-14) with sklearn's semantics.
//
// With w_ij = (dof / (dof + |y_i - y_j|^2))^((dof + 1) / 2) the unnormalised repulsion
// on point i is F_i = sum_j w_ij^2 (y_i - y_j) and Z = sum_{i != j} w_ij. A cell of
// the tree is used as one summary point at its centre of mass when
//   squared_max_width(cell) < angle^2 * |y_i - com(cell)|^2      (sklearn's test)
// and a point never repels itself (nor points within 1e-6 of it in every coordinate).
// Leaves are visited point by point. The tree is walked once per group of up to 128
// Morton-consecutive points with a conservative (group bounding box) form of that test,
// and the resulting interaction list is applied to the group's points by a SIMD kernel;
// see barnes_hut_repulsion.cpp. Groups are processed in fixed blocks whose partial Z are reduced in
// block order (bitwise identical for any number of threads). dof must be 1 or 2
// (n_components 1-2 and 3), unless the heavy-tailed kernel (heavy_tail_dof a > 0,
// repulsion_method.h) replaces it: then F_i = sum_j w_ij u_ij (y_i - y_j), w = u^a.
#pragma once

#include <cstdint>
#include <memory>

#include "acctsne/parallel.h"
#include "acctsne/quadtree.h"
#include "acctsne/repulsion_method.h"
#include "acctsne/simd.h"

namespace acctsne {

// Writes F (n x dims, original point order) and returns Z (floored at float64 eps).
// heavy_tail_dof: 0, or the a > 0 of the heavy-tailed kernel (dof is then not read).
double RepulsiveForces(const QuadTree& tree, float angle, int dof, double heavy_tail_dof,
                       SimdLevel level, ThreadPool& pool, float* neg_forces);

// The registered "barnes_hut" method: the tree rebuilt on every call (dims 1 to 3).
std::unique_ptr<RepulsionMethod> MakeBarnesHutRepulsion(const GradientParams& params,
                                                        const RepulsionContext& context);

}  // namespace acctsne
