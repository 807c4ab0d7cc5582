# 40 teams of 2..60 rows, a factor and a log transform in the fixed part.
# input.csv comes from ../lmm_common/make_inputs.py. Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- read.csv("input.csv", stringsAsFactors = TRUE)
fit_all(list(
  list(name = "reml", formula_r = "y ~ x1 + log(x2) + f + (1 + x1 | team)",
       formula_py = "y ~ x1 + log(x2) + C(f) + (1 + x1 | team)", reml = TRUE),
  list(name = "ml", formula_r = "y ~ x1 + log(x2) + f + (1 + x1 | team)",
       formula_py = "y ~ x1 + log(x2) + C(f) + (1 + x1 | team)", reml = FALSE)
), data)
