# Boundary fit: the intercept variance is estimated at zero. input.csv comes
# from ../lmm_common/make_inputs.py. Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- read.csv("input.csv")
data$team <- factor(data$team)
fit_all(list(
  list(name = "reml", formula_r = "y ~ x + (1 + x | team)", formula_py = "y ~ x + (1 + x | team)", reml = TRUE),
  list(name = "ml_intercept", formula_r = "y ~ x + (1 | team)", formula_py = "y ~ x + (1 | team)", reml = FALSE)
), data)
