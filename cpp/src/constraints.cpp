#include "ember/constraints.h"

#include <algorithm>
#include <string>

#include "ember/error.h"
#include "ember/tensor.h"

namespace ember {

WeightConstraint WeightConstraint::make(Kind kind, double min_value, double max_value,
                                        double rate, std::vector<int64_t> axes,
                                        const std::vector<int64_t>& shape,
                                        const std::string& variable_name) {
  const std::string where = "constraint of variable '" + variable_name + "' of shape " +
                            shape_to_string(shape);
  if (!(min_value >= 0.0) || !(max_value >= min_value))
    throw ValueError(where + ": the norm bounds must satisfy 0 <= min_value <= max_value, got " +
                     std::to_string(min_value) + " and " + std::to_string(max_value));
  if (!(rate >= 0.0 && rate <= 1.0))
    throw ValueError(where + ": rate must be in [0, 1], got " + std::to_string(rate));
  const auto rank = static_cast<int64_t>(shape.size());
  if (axes.empty())  // axis=None: one norm over the whole variable
    for (int64_t a = 0; a < rank; ++a) axes.push_back(a);
  for (int64_t& a : axes) {
    if (a < -rank || a >= rank)
      throw ValueError(where + ": axis " + std::to_string(a) + " is out of range");
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  if (!axes.empty() && axes.back() - axes.front() + 1 != static_cast<int64_t>(axes.size()))
    throw ValueError(where + ": the axes a norm is taken over must be adjacent (e.g. [0, 1, 2]); "
                     "ember does not constrain over non-adjacent axes");
  WeightConstraint c;
  c.kind = kind;
  c.min_value = min_value;
  c.max_value = max_value;
  c.rate = rate;
  for (int64_t a = 0; a < rank; ++a) {
    const int64_t d = shape[static_cast<size_t>(a)];
    if (!axes.empty() && a < axes.front())
      c.outer *= d;
    else if (!axes.empty() && a <= axes.back())
      c.mid *= d;
    else
      c.inner *= d;
  }
  return c;
}

}  // namespace ember
