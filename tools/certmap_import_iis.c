#include "certmap_tool.h"
int certmap_tool_import_iis(apr_pool_t *p, int argc, const char *const *argv)
{
    return certmap_tool_fail("import-iis: not yet");
}
