// The registry of repulsion methods: one line per method (see acctsne/repulsion_method.h).
#include <iterator>

#include "acctsne/barnes_hut_repulsion.h"
#include "acctsne/common.h"
#include "acctsne/fft_repulsion.h"
#include "acctsne/repulsion_method.h"

namespace acctsne {
namespace {

struct RegisteredMethod {
  const char* name;
  RepulsionFactory make;
};

constexpr RegisteredMethod kMethods[] = {
    {"barnes_hut", &MakeBarnesHutRepulsion},
    {"fft", &MakeFftRepulsion},
};

}  // namespace

std::unique_ptr<RepulsionMethod> MakeRepulsion(const GradientParams& params,
                                               const RepulsionContext& context) {
  for (const RegisteredMethod& m : kMethods)
    if (params.method == m.name) return m.make(params, context);
  std::string names;
  for (const RegisteredMethod& m : kMethods) names += StrCat(names.empty() ? "" : ", ", m.name);
  throw InvalidArgument(
      StrCat("unknown repulsion method '", params.method, "' (registered: ", names, ")"));
}

std::vector<std::string> RepulsionMethodNames() {
  std::vector<std::string> out;
  for (const RegisteredMethod& m : kMethods) out.emplace_back(m.name);
  return out;
}

}  // namespace acctsne
