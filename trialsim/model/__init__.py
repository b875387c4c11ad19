"""The disease model: instruments and protocol rules, the population and screening,
randomization, the course."""
