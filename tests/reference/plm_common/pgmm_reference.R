# Shared by every plm_emplUK_* case: fit plm::pgmm on the Arellano-Bond (1991) EmplUK data
# and write emplUK.csv, output.txt (what R prints) and reference.json into the current folder.
suppressPackageStartupMessages(library(plm))

pgmm_reference <- function(formula_text, effect, model, transformation, collapse) {
  data("EmplUK", package = "plm")
  d <- data.frame(firm = EmplUK$firm, year = EmplUK$year,
                  n = log(EmplUK$emp), w = log(EmplUK$wage),
                  k = log(EmplUK$capital), ys = log(EmplUK$output))
  write.csv(d, "emplUK.csv", row.names = FALSE)
  d <- read.csv("emplUK.csv")
  pd <- pdata.frame(d, index = c("firm", "year"))
  # bquote puts the literal formula and settings into the call, so output.txt prints them
  fit <- eval(bquote(pgmm(.(as.formula(formula_text)), data = pd, effect = .(effect), model = .(model),
                          collapse = .(collapse), transformation = .(transformation))))
  s_rob <- summary(fit, robust = TRUE, time.dummies = TRUE)
  s_std <- summary(fit, robust = FALSE, time.dummies = TRUE)
  sink("output.txt")
  cat("plm", as.character(packageVersion("plm")), "\n")
  print(s_rob)
  print(s_std)
  sink()
  num <- function(x) unname(as.numeric(x))
  b <- coef(fit)
  if (is.list(b)) b <- b[[2]]
  ref <- list(
    formula = formula_text, effect = effect, model = model,
    transformation = transformation, collapse = collapse,
    plm_version = as.character(packageVersion("plm")),
    names = names(b), coef = num(b),
    se_robust = num(sqrt(diag(vcovHC(fit)))), se = num(sqrt(diag(vcov(fit)))),
    sargan = list(stat = num(s_rob$sargan$statistic), df = num(s_rob$sargan$parameter), p = num(s_rob$sargan$p.value)),
    m1_robust = num(s_rob$m1$statistic), m2_robust = num(s_rob$m2$statistic),
    m1 = num(s_std$m1$statistic), m2 = num(s_std$m2$statistic),
    n_instruments = ncol(fit$W[[1]]), n_units = length(fit$W),
    tolerance = list(coef = 1e-4, se = 1e-4, sargan = 1e-4, mtest = 1e-4, kind = "absolute")
  )
  writeLines(jsonlite::toJSON(ref, digits = NA, auto_unbox = TRUE, pretty = TRUE), "reference.json")
}
