"""Documents generated from the code (`python -m docgen.asyncapi`); tooling, never deployed."""
