#include "hv/core/host_caps.h"

struct host_caps host_caps_storage;

void host_caps_init(const struct host_caps *caps)
{
    host_caps_storage = *caps;
}
