# Two httpd servers sharing one memcached (MCPAuthCache
# memcache:127.0.0.1:11290, mod_socache_memcache) fetch a key set once
# between them, also when both are cold at the same moment. The scenario is
# in t/lib/SharedCacheScenario.pm. Skipped only when memcached cannot be
# installed.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use SharedCacheScenario;

SharedCacheScenario::run(memcache => 11290);
