"""Operations: what a command does, as a library call returning a result dict."""
