// The models the registry lists (models.cpp), one per file.
#pragma once

#include "workloads/models/model.hpp"

namespace alloclab::trace {

extern const Model http1_static_model;
extern const Model http_api_model;
extern const Model http_upload_model;
extern const Model proxy_model;
extern const Model long_running_model;
extern const Model scope_sweep_model;
extern const Model small_objects_model;
extern const Model idle_connections_model;

}  // namespace alloclab::trace
