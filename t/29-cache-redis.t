# Two httpd servers sharing one Redis (MCPAuthCache redis:127.0.0.1:6390,
# mod_socache_redis) fetch a key set once between them, also when both are
# cold at the same moment. The scenario is in t/lib/SharedCacheScenario.pm.
# Skipped only when redis-server cannot be installed.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use SharedCacheScenario;

SharedCacheScenario::run(redis => 6390);
