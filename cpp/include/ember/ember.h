// The one header a C++ program includes to embed ember: tensors and devices, the graph and
// its executor, every op a layer is built from, the model (compile, train, evaluate,
// predict), losses, metrics, optimizers with their schedules, the typed exceptions, and
// load_model() for the .keras / .h5 files Python saves (ember/load_model.h).
// The kernel boundary (backend.h, kernels.h, layer_kernels.h) is for backends, not users,
// and is not included. With the installed package: find_package(ember CONFIG REQUIRED) and
// target_link_libraries(app PRIVATE ember::ember).
#pragma once

#include "ember/activations.h"
#include "ember/device.h"
#include "ember/error.h"
#include "ember/graph.h"
#include "ember/layer_builder.h"
#include "ember/load_model.h"
#include "ember/losses.h"
#include "ember/metrics.h"
#include "ember/model.h"
#include "ember/ops.h"
#include "ember/ops_conv.h"
#include "ember/ops_einsum.h"
#include "ember/ops_embedding.h"
#include "ember/ops_math.h"
#include "ember/ops_merging.h"
#include "ember/ops_normalization.h"
#include "ember/ops_pooling.h"
#include "ember/ops_recurrent.h"
#include "ember/ops_regularization.h"
#include "ember/ops_reshaping.h"
#include "ember/ops_score_attention.h"
#include "ember/ops_spectral_normalization.h"
#include "ember/optimizers.h"
#include "ember/schedules.h"
#include "ember/tensor.h"
