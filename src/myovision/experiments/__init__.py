"""End-to-end experiments that reproduce a paper's table with one command."""
