# Reference output of plm::pgmm with transformed terms (log(x), log(x + 1)) in the formula,
# on the raw Arellano-Bond (1991) EmplUK data.
# Run from this folder: Rscript generate.R   (writes emplUK.csv, output.txt, reference.json)
suppressPackageStartupMessages(library(plm))
data("EmplUK", package = "plm")
d <- data.frame(firm = EmplUK$firm, year = EmplUK$year, emp = EmplUK$emp, wage = EmplUK$wage,
                capital = EmplUK$capital, output = EmplUK$output)
write.csv(d, "emplUK.csv", row.names = FALSE)
d <- read.csv("emplUK.csv")
pd <- pdata.frame(d, index = c("firm", "year"))
formula_text <- "log(emp) ~ lag(log(emp), 1:2) + lag(log(wage), 0:1) + log(capital + 1) + lag(log(output + 1), 0:1) | lag(log(emp), 2:99)"
fit <- eval(bquote(pgmm(.(as.formula(formula_text)), data = pd, effect = "twoways", model = "twosteps",
                        collapse = TRUE, transformation = "d")))
s_rob <- summary(fit, robust = TRUE, time.dummies = TRUE)
s_std <- summary(fit, robust = FALSE, time.dummies = TRUE)
sink("output.txt")
cat("plm", as.character(packageVersion("plm")), "\n")
print(s_rob)
print(s_std)
sink()
num <- function(x) unname(as.numeric(x))
b <- coef(fit)
ref <- list(
  formula = formula_text, effect = "twoways", model = "twosteps", transformation = "d", collapse = TRUE,
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
