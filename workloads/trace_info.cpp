#include "workloads/trace_info.hpp"
