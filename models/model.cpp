#include "models/model.h"

#include "ops/ops.h"
#include "tensor/check.h"

namespace vps::models {

Tensor Model::total_loss(const LossMap& losses) {
  Tensor total;
  for (const auto& kv : losses) {
    if (kv.first.find("loss") == std::string::npos) continue;
    total = total.defined() ? add(total, kv.second) : kv.second;
  }
  VPS_CHECK(total.defined(), "total_loss: no entry named *loss* among ", losses.size(), " outputs");
  return total;
}

}  // namespace vps::models
