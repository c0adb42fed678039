"""apiarytest: the helpers Apiary's Python test suites share (Tests/Support/python/README.md).

Nothing to install: a suite puts Tests/Support/python on sys.path from its own
location and imports the modules it needs:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Support", "python"))
    from apiarytest import checks, components, net, paths, procs

Standard library only; nothing here runs on import.
"""
