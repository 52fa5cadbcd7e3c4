from devtools.openapi import main

raise SystemExit(main())
