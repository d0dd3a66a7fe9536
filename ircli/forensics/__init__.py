"""One forensics account: where every member account's evidence copies, cases and analysts live."""
