from llmgateway.cli import main

raise SystemExit(main())
