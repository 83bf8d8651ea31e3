def pytest_collection_modifyitems(session, config, items):
    "Run the two-process DDP test first, in a fresh pytest process: late in a full session its gloo ranks have aborted"
    items.sort(key=lambda it: 0 if it.name == 'test_ddp_gloo_two_processes' else 1)   # stable: the rest keep their order
