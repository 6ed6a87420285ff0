"""The loaders: accounts in, typed frames out (outcomes, calls, meetings, outcome history), and where data comes from."""
